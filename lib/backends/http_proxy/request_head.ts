/**
 * Strict request head parsing: {@linkcode findHeadEnd} finds the end of a request head in a byte
 * buffer (refusing bare LF), then {@linkcode parseRequestHead} parses it into the few facts the
 * proxy needs (framing, keep-alive, routing, hop-by-hop lines to drop), on the bytes with the
 * byte-class table of head_bytes.ts, decoding only the values the proxy uses. Anything ambiguous
 * is refused: Content-Length with Transfer-Encoding, duplicate or invalid Content-Length,
 * obs-fold, invalid header name or value characters.
 */
import {
  C_TARGET,
  C_TOKEN,
  C_VALUE,
  CLASS,
  decimal,
  equalsLower,
  HeadError,
  isDigit,
  latin1,
} from "./head_bytes.ts";

/** Result of {@linkcode findHeadEnd} when more bytes are needed. */
export const HEAD_MORE = -1;
/** Result of {@linkcode findHeadEnd} when a bare LF was found. */
export const HEAD_BARE_LF = -2;

/**
 * Finds the end of a head in `buf[from, to)` (the head starts at `from`): the index just past
 * CRLFCRLF, {@linkcode HEAD_MORE}, or {@linkcode HEAD_BARE_LF}. `scanFrom` lets a caller skip bytes
 * already scanned (pass the previous `to`).
 */
export function findHeadEnd(buf: Uint8Array, from: number, to: number, scanFrom = from): number {
  // indexOf runs on past `to` into whatever the buffer held before: nothing read, nothing to do.
  if (to <= from) return HEAD_MORE;
  let i = scanFrom > from + 3 ? scanFrom - 3 : from;
  while (true) {
    i = buf.indexOf(10, i);
    if (i < 0 || i >= to) return HEAD_MORE;
    if (i === from || buf[i - 1] !== 13) return HEAD_BARE_LF;
    if (i >= from + 3 && buf[i - 2] === 10) return i + 1;
    i++;
  }
}

/** The facts of a request head. Offsets are relative to the head's first byte. */
export interface RequestHead {
  method: string;
  /** The raw request target. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  /** Raw Host header value (or the authority of an absolute-form target), null when absent. */
  host: string | null;
  /** Path part used for routing (origin-form target, or the path of an absolute-form one). */
  path: string;
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** The client asked to close after this exchange (or is HTTP/1.0 without keep-alive). */
  close: boolean;
  /** The Upgrade header value when `Connection: upgrade` was sent, else null. */
  upgrade: string | null;
  expectContinue: boolean;
  /** Existing X-Forwarded-For values joined with ", ", or null. */
  xff: string | null;
  /** Existing Forwarded values joined with ", ", or null. */
  forwarded: string | null;
  hasXfProto: boolean;
  hasXfPort: boolean;
  /** [start, end) byte ranges of header lines (with their CRLF) to leave out when forwarding. */
  drops: number[];
  /** Offset of the first Cookie line (read by sticky.ts only), -1 when none. */
  cookieAt: number;
  /** Offset just past the request line's CRLF. */
  firstLineEnd: number;
  /** Length of the whole head including the final CRLFCRLF. */
  length: number;
}

/** The reason a header line starting at `pos` (ending before `eol`) is refused. */
function headerLineError(buf: Uint8Array, pos: number, eol: number, status: number): HeadError {
  const colon = buf.indexOf(58, pos);
  if (colon < 0 || colon >= eol) return new HeadError(status, "header line without a colon");
  const name = latin1(buf, pos, colon);
  let n = pos;
  while (n < colon && (CLASS[buf[n]!]! & C_TOKEN) !== 0) n++;
  if (n < colon || n === pos) return new HeadError(status, `invalid header name "${name}"`);
  return new HeadError(status, `invalid character in header "${name}"`);
}

/** The HTTP version at `buf[at, at + 8)`: 1 or 0 for HTTP/1.1 or 1.0; throws otherwise. */
function requestVersion(buf: Uint8Array, at: number): number {
  if (
    buf[at] === 72 && buf[at + 1] === 84 && buf[at + 2] === 84 && buf[at + 3] === 80 &&
    buf[at + 4] === 47 && isDigit(buf[at + 5]!) && buf[at + 6] === 46 && isDigit(buf[at + 7]!)
  ) {
    if (buf[at + 5] === 49 && (buf[at + 7] === 49 || buf[at + 7] === 48)) return buf[at + 7]! - 48;
    throw new HeadError(505, "unsupported version");
  }
  throw new HeadError(400, "malformed HTTP version");
}

/** The method at `buf[from, to)`, without allocating for the common ones. */
function methodName(buf: Uint8Array, from: number, to: number): string {
  const c = buf[from];
  if (to - from === 3) {
    if (c === 71 && buf[from + 1] === 69 && buf[from + 2] === 84) return "GET";
    if (c === 80 && buf[from + 1] === 85 && buf[from + 2] === 84) return "PUT";
  } else if (to - from === 4) {
    if (c === 80 && buf[from + 1] === 79 && buf[from + 2] === 83 && buf[from + 3] === 84) {
      return "POST";
    }
    if (c === 72 && buf[from + 1] === 69 && buf[from + 2] === 65 && buf[from + 3] === 68) {
      return "HEAD";
    }
  }
  return latin1(buf, from, to);
}

/**
 * Parses a request head whose bytes are `buf[from, end)` where `end` came from
 * {@linkcode findHeadEnd}. It works on the bytes and decodes only the values the proxy uses.
 * Throws {@linkcode HeadError}.
 * Long on purpose: one pass over the bytes, each header line dispatched inline by its length.
 */
export function parseRequestHead(buf: Uint8Array, from: number, end: number): RequestHead {
  const limit = end - 2;
  // Request line: method SP target SP version CRLF, each part strictly checked.
  let i = from;
  while ((CLASS[buf[i]!]! & C_TOKEN) !== 0) i++;
  if (i === from || buf[i] !== 32) {
    throw new HeadError(
      400,
      i === from || i >= limit ? "malformed request line" : "invalid method",
    );
  }
  const targetStart = i + 1;
  let j = targetStart;
  while ((CLASS[buf[j]!]! & C_TARGET) !== 0) j++;
  if (j === targetStart || buf[j] !== 32) {
    throw new HeadError(
      400,
      j === targetStart ? "malformed request line" : "invalid request target",
    );
  }
  const versionAt = j + 1;
  if (versionAt + 10 > end || buf[versionAt + 8] !== 13 || buf[versionAt + 9] !== 10) {
    // Not "HTTP/x.y" CRLF: a space inside the version, trailing junk, or no version at all.
    const lineEnd = buf.indexOf(13, versionAt);
    const versionBytes = lineEnd < 0 || lineEnd > limit ? limit - versionAt : lineEnd - versionAt;
    if (versionBytes === 8) requestVersion(buf, versionAt);
    throw new HeadError(400, "malformed request line");
  }
  const minor = requestVersion(buf, versionAt);
  const firstLineEnd = versionAt + 10;
  const target = latin1(buf, targetStart, j);

  const head: RequestHead = {
    method: methodName(buf, from, i),
    target,
    minor,
    host: null,
    path: target,
    contentLength: -1,
    chunked: false,
    close: minor === 0,
    upgrade: null,
    expectContinue: false,
    xff: null,
    forwarded: null,
    hasXfProto: false,
    hasXfPort: false,
    drops: [],
    cookieAt: -1,
    firstLineEnd: firstLineEnd - from,
    length: end - from,
  };
  let hosts = 0;
  let teSeen = false;
  let connection: string | null = null;
  let upgradeValue: string | null = null;
  let upgradeStart = -1;
  let upgradeStop = -1;
  let pos = firstLineEnd;
  while (pos < limit) {
    const first = buf[pos]!;
    if (first === 32 || first === 9) throw new HeadError(400, "obsolete line folding");
    let n = pos;
    while ((CLASS[buf[n]!]! & C_TOKEN) !== 0) n++;
    let vs = n + 1;
    if (n === pos || buf[n] !== 58) throw headerLineError(buf, pos, buf.indexOf(13, pos), 400);
    while (buf[vs] === 32 || buf[vs] === 9) vs++;
    let eol = vs;
    while ((CLASS[buf[eol]!]! & C_VALUE) !== 0) eol++;
    if (buf[eol] !== 13 || buf[eol + 1] !== 10 || eol > limit) {
      throw headerLineError(buf, pos, eol, 400);
    }
    let ve = eol;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    const at = pos;
    const start = pos - from;
    const stop = eol + 2 - from;
    pos = eol + 2;
    const lower = first | 0x20;
    switch (n - at) {
      case 4:
        if (lower === 104 && equalsLower(buf, at, "host")) {
          if (++hosts > 1) throw new HeadError(400, "duplicate Host header");
          head.host = latin1(buf, vs, ve);
        }
        break;
      case 2:
        if (lower === 116 && equalsLower(buf, at, "te")) head.drops.push(start, stop);
        break;
      case 6:
        if (lower === 101 && equalsLower(buf, at, "expect")) {
          if (ve - vs === 12 && equalsLower(buf, vs, "100-continue")) head.expectContinue = true;
        } else if (lower === 99 && head.cookieAt < 0 && equalsLower(buf, at, "cookie")) {
          head.cookieAt = start;
        }
        break;
      case 7:
        if (lower === 117 && equalsLower(buf, at, "upgrade")) {
          upgradeValue = latin1(buf, vs, ve);
          upgradeStart = start;
          upgradeStop = stop;
        } else if (lower === 115 && equalsLower(buf, at, "sozu-id")) {
          head.drops.push(start, stop);
        }
        break;
      case 9:
        if (lower === 102 && equalsLower(buf, at, "forwarded")) {
          const value = latin1(buf, vs, ve);
          head.forwarded = head.forwarded === null ? value : `${head.forwarded}, ${value}`;
          head.drops.push(start, stop);
        }
        break;
      case 10:
        if (lower === 99 && equalsLower(buf, at, "connection")) {
          const value = latin1(buf, vs, ve);
          connection = connection === null ? value : `${connection}, ${value}`;
          head.drops.push(start, stop);
        } else if (lower === 107 && equalsLower(buf, at, "keep-alive")) {
          head.drops.push(start, stop);
        }
        break;
      case 14:
        if (lower === 99 && equalsLower(buf, at, "content-length")) {
          if (head.contentLength >= 0) throw new HeadError(400, "duplicate Content-Length");
          const length = decimal(buf, vs, ve);
          if (length < 0) throw new HeadError(400, "invalid Content-Length");
          head.contentLength = length;
        }
        break;
      case 15:
        if (lower === 120 && equalsLower(buf, at, "x-forwarded-for")) {
          const value = latin1(buf, vs, ve);
          head.xff = head.xff === null ? value : `${head.xff}, ${value}`;
          head.drops.push(start, stop);
        }
        break;
      case 16:
        if (lower === 120 && equalsLower(buf, at, "x-forwarded-port")) {
          head.hasXfPort = true;
        } else if (lower === 112 && equalsLower(buf, at, "proxy-connection")) {
          head.drops.push(start, stop);
        }
        break;
      case 17:
        if (lower === 116 && equalsLower(buf, at, "transfer-encoding")) {
          if (teSeen) throw new HeadError(400, "duplicate Transfer-Encoding");
          teSeen = true;
          if (ve - vs !== 7 || !equalsLower(buf, vs, "chunked")) {
            throw new HeadError(400, "unsupported Transfer-Encoding");
          }
          head.chunked = true;
        } else if (lower === 120 && equalsLower(buf, at, "x-forwarded-proto")) {
          head.hasXfProto = true;
        }
        break;
    }
  }
  if (teSeen && head.contentLength >= 0) {
    throw new HeadError(400, "both Content-Length and Transfer-Encoding");
  }
  if (minor === 1 && hosts === 0) throw new HeadError(400, "missing Host header");
  if (connection !== null) {
    const tokens = (connection as string).split(",").map((t) => t.trim().toLowerCase());
    let extraHop = false;
    for (const token of tokens) {
      if (token === "close") head.close = true;
      else if (token === "keep-alive") {
        if (minor === 0) head.close = false;
      } else if (token === "upgrade") {
        if (upgradeValue !== null) head.upgrade = upgradeValue;
      } else if (token !== "") extraHop = true;
    }
    if (extraHop) dropListed(buf, from, firstLineEnd, limit, tokens, head.drops);
  }
  if (head.upgrade === null && upgradeStart >= 0) head.drops.push(upgradeStart, upgradeStop);
  if (target.charCodeAt(0) !== 47) absoluteTarget(head);
  if (head.drops.length > 2) sortRanges(head.drops);
  return head;
}

/** Adds the lines of the headers that `Connection` lists (already validated) to `drops`. */
function dropListed(
  buf: Uint8Array,
  from: number,
  pos: number,
  limit: number,
  tokens: string[],
  drops: number[],
): void {
  const names = new Set(
    tokens.filter((t) => t !== "close" && t !== "keep-alive" && t !== "upgrade" && t !== ""),
  );
  const starts = new Set(drops.filter((_, i) => i % 2 === 0));
  while (pos < limit) {
    const eol = buf.indexOf(13, pos);
    const name = latin1(buf, pos, buf.indexOf(58, pos)).toLowerCase();
    if (names.has(name) && !starts.has(pos - from)) drops.push(pos - from, eol + 2 - from);
    pos = eol + 2;
  }
}

function absoluteTarget(head: RequestHead): void {
  const t = head.target;
  if (t === "*" && head.method === "OPTIONS") return;
  const lower = t.slice(0, 8).toLowerCase();
  let rest: string;
  if (lower.startsWith("http://")) rest = t.slice(7);
  else if (lower.startsWith("https://")) rest = t.slice(8);
  else if (head.method === "CONNECT") throw new HeadError(400, "CONNECT is not supported");
  else throw new HeadError(400, "invalid request target");
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  if (authority === "" || authority.includes("@")) throw new HeadError(400, "invalid authority");
  head.host = authority;
  head.path = slash < 0 ? "/" : rest.slice(slash);
}

function sortRanges(ranges: number[]): void {
  const pairs: [number, number][] = [];
  for (let i = 0; i < ranges.length; i += 2) pairs.push([ranges[i]!, ranges[i + 1]!]);
  pairs.sort((a, b) => a[0] - b[0]);
  ranges.length = 0;
  for (const [a, b] of pairs) ranges.push(a, b);
}
