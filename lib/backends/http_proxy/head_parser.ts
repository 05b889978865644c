/**
 * Strict HTTP/1.1 head parsing for a proxy, where the parser is a security boundary: it finds the
 * end of a head in a byte buffer (refusing bare LF), then parses the request or response head into
 * the few facts the proxy needs (framing, keep-alive, routing, hop-by-hop lines to drop).
 * Anything ambiguous is refused: Content-Length with Transfer-Encoding, duplicate or invalid
 * Content-Length, obs-fold, invalid header name or value characters.
 */

/** Largest request or response head accepted, bytes; larger request heads get 431. */
export const MAX_HEAD = 64 * 1024;

/** Result of {@linkcode findHeadEnd} when more bytes are needed. */
export const HEAD_MORE = -1;
/** Result of {@linkcode findHeadEnd} when a bare LF was found. */
export const HEAD_BARE_LF = -2;

/** A head the proxy refuses; `status` is the canned answer to send (400, 431, 505, 502). */
export class HeadError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "HeadError";
    this.status = status;
  }
}

/**
 * Finds the end of a head in `buf[from, to)` (the head starts at `from`): the index just past
 * CRLFCRLF, {@linkcode HEAD_MORE}, or {@linkcode HEAD_BARE_LF}. `scanFrom` lets a caller skip bytes
 * already scanned (pass the previous `to`).
 */
export function findHeadEnd(buf: Uint8Array, from: number, to: number, scanFrom = from): number {
  let i = scanFrom > from + 3 ? scanFrom - 3 : from;
  while (true) {
    i = buf.indexOf(10, i);
    if (i < 0 || i >= to) return HEAD_MORE;
    if (i === from || buf[i - 1] !== 13) return HEAD_BARE_LF;
    if (i >= from + 3 && buf[i - 2] === 10) return i + 1;
    i++;
  }
}

/** Latin-1 decoding of `buf[from, to)`: one char per byte, so string offsets are byte offsets. */
export function latin1(buf: Uint8Array, from: number, to: number): string {
  if (to - from <= 4096) {
    return String.fromCharCode.apply(null, buf.subarray(from, to) as unknown as number[]);
  }
  let out = "";
  for (let i = from; i < to; i += 4096) {
    out += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(i + 4096, to)) as unknown as number[],
    );
  }
  return out;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALID_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TARGET = /^[\x21-\x7e]+$/;
const DIGITS = /^[0-9]{1,15}$/;

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
  /** Offset just past the request line's CRLF. */
  firstLineEnd: number;
  /** Length of the whole head including the final CRLFCRLF. */
  length: number;
}

/** The facts of a response head. */
export interface ResponseHead {
  status: number;
  minor: number;
  /** -1 when absent. */
  contentLength: number;
  chunked: boolean;
  /** The backend will close (or is HTTP/1.0 without keep-alive). */
  close: boolean;
  drops: number[];
  length: number;
}

function headerLines(
  text: string,
  from: number,
  onHeader: (name: string, value: string, start: number, end: number) => void,
): void {
  let pos = from;
  const limit = text.length;
  while (pos < limit) {
    let eol = text.indexOf("\r\n", pos);
    if (eol < 0) eol = limit;
    const first = text.charCodeAt(pos);
    if (first === 32 || first === 9) throw new HeadError(400, "obsolete line folding");
    const colon = text.indexOf(":", pos);
    if (colon < 0 || colon >= eol) throw new HeadError(400, "header line without a colon");
    const name = text.slice(pos, colon);
    if (!TOKEN.test(name)) throw new HeadError(400, `invalid header name "${name}"`);
    let vs = colon + 1;
    let ve = eol;
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    const value = text.slice(vs, ve);
    if (!VALID_VALUE.test(value)) throw new HeadError(400, `invalid character in header "${name}"`);
    onHeader(name, value, pos, eol + 2);
    pos = eol + 2;
  }
}

function hasToken(list: string, token: string): boolean {
  for (const part of list.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * Parses a request head whose bytes are `buf[from, end)` where `end` came from
 * {@linkcode findHeadEnd}. Throws {@linkcode HeadError}.
 */
export function parseRequestHead(buf: Uint8Array, from: number, end: number): RequestHead {
  const text = latin1(buf, from, end - 2);
  const lineEnd = text.indexOf("\r\n");
  const line = text.slice(0, lineEnd);
  const sp1 = line.indexOf(" ");
  const sp2 = line.indexOf(" ", sp1 + 1);
  if (sp1 <= 0 || sp2 < 0 || line.indexOf(" ", sp2 + 1) >= 0) {
    throw new HeadError(400, "malformed request line");
  }
  const method = line.slice(0, sp1);
  const target = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!TOKEN.test(method)) throw new HeadError(400, "invalid method");
  if (!TARGET.test(target)) throw new HeadError(400, "invalid request target");
  let minor: number;
  if (version === "HTTP/1.1") minor = 1;
  else if (version === "HTTP/1.0") minor = 0;
  else if (/^HTTP\/[0-9]\.[0-9]$/.test(version)) throw new HeadError(505, "unsupported version");
  else throw new HeadError(400, "malformed HTTP version");

  const head: RequestHead = {
    method,
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
    firstLineEnd: lineEnd + 2,
    length: end - from,
  };
  let hosts = 0;
  let teSeen = false;
  let connection: string | null = null;
  let upgradeValue: string | null = null;
  let upgradeLine: [number, number] | null = null;
  let extraHop = false;
  headerLines(text, lineEnd + 2, (name, value, start, stop) => {
    switch (name.length) {
      case 4:
        if (name.toLowerCase() === "host") {
          if (++hosts > 1) throw new HeadError(400, "duplicate Host header");
          head.host = value;
        }
        return;
      case 2:
        if (name.toLowerCase() === "te") head.drops.push(start, stop);
        return;
      case 6:
        if (name.toLowerCase() === "expect") {
          if (value.toLowerCase() === "100-continue") head.expectContinue = true;
        }
        return;
      case 7:
        if (name.toLowerCase() === "upgrade") {
          upgradeValue = value;
          upgradeLine = [start, stop];
        } else if (name.toLowerCase() === "sozu-id") {
          head.drops.push(start, stop);
        }
        return;
      case 9:
        if (name.toLowerCase() === "forwarded") {
          head.forwarded = head.forwarded === null ? value : `${head.forwarded}, ${value}`;
          head.drops.push(start, stop);
        }
        return;
      case 10: {
        const lower = name.toLowerCase();
        if (lower === "connection") {
          connection = connection === null ? value : `${connection}, ${value}`;
          head.drops.push(start, stop);
        } else if (lower === "keep-alive") {
          head.drops.push(start, stop);
        }
        return;
      }
      case 14:
        if (name.toLowerCase() === "content-length") {
          if (head.contentLength >= 0) throw new HeadError(400, "duplicate Content-Length");
          if (!DIGITS.test(value)) throw new HeadError(400, "invalid Content-Length");
          head.contentLength = Number(value);
        }
        return;
      case 15:
        if (name.toLowerCase() === "x-forwarded-for") {
          head.xff = head.xff === null ? value : `${head.xff}, ${value}`;
          head.drops.push(start, stop);
        }
        return;
      case 16: {
        const lower = name.toLowerCase();
        if (lower === "x-forwarded-port") head.hasXfPort = true;
        else if (lower === "proxy-connection") head.drops.push(start, stop);
        return;
      }
      case 17: {
        const lower = name.toLowerCase();
        if (lower === "transfer-encoding") {
          if (teSeen) throw new HeadError(400, "duplicate Transfer-Encoding");
          teSeen = true;
          if (value.toLowerCase() !== "chunked") {
            throw new HeadError(400, "unsupported Transfer-Encoding");
          }
          head.chunked = true;
        } else if (lower === "x-forwarded-proto") {
          head.hasXfProto = true;
        }
        return;
      }
      default:
        return;
    }
  });
  if (teSeen && head.contentLength >= 0) {
    throw new HeadError(400, "both Content-Length and Transfer-Encoding");
  }
  if (minor === 1 && hosts === 0) throw new HeadError(400, "missing Host header");
  if (connection !== null) {
    const tokens = (connection as string).split(",").map((t) => t.trim().toLowerCase());
    for (const token of tokens) {
      if (token === "close") head.close = true;
      else if (token === "keep-alive") {
        if (minor === 0) head.close = false;
      } else if (token === "upgrade") {
        if (upgradeValue !== null) head.upgrade = upgradeValue;
      } else if (token !== "") extraHop = true;
    }
    if (extraHop) dropListed(text, lineEnd + 2, tokens, head.drops);
  }
  if (head.upgrade === null && upgradeLine !== null) {
    head.drops.push((upgradeLine as [number, number])[0], (upgradeLine as [number, number])[1]);
  }
  if (target.charCodeAt(0) !== 47) absoluteTarget(head);
  if (head.drops.length > 2) sortRanges(head.drops);
  return head;
}

function dropListed(text: string, from: number, tokens: string[], drops: number[]): void {
  const names = new Set(
    tokens.filter((t) => t !== "close" && t !== "keep-alive" && t !== "upgrade" && t !== ""),
  );
  const starts = new Set(drops.filter((_, i) => i % 2 === 0));
  headerLines(text, from, (name, _value, start, stop) => {
    if (names.has(name.toLowerCase()) && !starts.has(start)) drops.push(start, stop);
  });
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

/** Whether `buf[at, at + lower.length)` equals `lower` ignoring ASCII case. */
function equalsLower(buf: Uint8Array, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if ((buf[at + i]! | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Start and end of a header value with surrounding blanks removed. */
function trimmed(buf: Uint8Array, from: number, to: number): [number, number] {
  while (from < to && (buf[from] === 32 || buf[from] === 9)) from++;
  while (to > from && (buf[to - 1] === 32 || buf[to - 1] === 9)) to--;
  return [from, to];
}

/**
 * Parses a response head `buf[from, end)` directly on the bytes (the hot path decodes nothing
 * but the few framing headers). Throws {@linkcode HeadError} with status 502 when the backend's
 * answer is not valid HTTP/1.x.
 */
export function parseResponseHead(buf: Uint8Array, from: number, end: number): ResponseHead {
  // "HTTP/1.x SSS" then SP reason or CRLF.
  if (
    end - from < 16 || buf[from] !== 72 || buf[from + 1] !== 84 || buf[from + 2] !== 84 ||
    buf[from + 3] !== 80 || buf[from + 4] !== 47 || buf[from + 5] !== 49 ||
    buf[from + 6] !== 46 || (buf[from + 7] !== 48 && buf[from + 7] !== 49) ||
    buf[from + 8] !== 32 || !isDigit(buf[from + 9]!) || !isDigit(buf[from + 10]!) ||
    !isDigit(buf[from + 11]!) || (buf[from + 12] !== 32 && buf[from + 12] !== 13)
  ) {
    throw new HeadError(502, "malformed status line");
  }
  const minor = buf[from + 7]! - 48;
  const status = (buf[from + 9]! - 48) * 100 + (buf[from + 10]! - 48) * 10 + buf[from + 11]! - 48;
  if (status < 100) throw new HeadError(502, "malformed status code");
  const head: ResponseHead = {
    status,
    minor,
    contentLength: -1,
    chunked: false,
    close: minor === 0,
    drops: [],
    length: end - from,
  };
  let pos = buf.indexOf(13, from + 12) + 2;
  if (buf[pos - 1] !== 10) throw new HeadError(502, "bare CR in status line");
  const limit = end - 2;
  let te: string | null = null;
  let sawCl = false;
  while (pos < limit) {
    const eol = buf.indexOf(13, pos);
    if (eol < 0 || eol >= limit + 1 || buf[eol + 1] !== 10) {
      throw new HeadError(502, "bare CR in response head");
    }
    const first = buf[pos]!;
    if (first === 32 || first === 9) throw new HeadError(502, "obsolete line folding");
    const colon = buf.indexOf(58, pos);
    if (colon <= pos || colon > eol) throw new HeadError(502, "header line without a colon");
    const nameLength = colon - pos;
    const lower = first | 0x20;
    if (nameLength === 14 && lower === 99 && equalsLower(buf, pos, "content-length")) {
      const [a, b] = trimmed(buf, colon + 1, eol);
      if (b === a || b - a > 15) throw new HeadError(502, "invalid Content-Length");
      let n = 0;
      for (let i = a; i < b; i++) {
        const c = buf[i]!;
        if (!isDigit(c)) throw new HeadError(502, "invalid Content-Length");
        n = n * 10 + c - 48;
      }
      if (sawCl && head.contentLength !== n) throw new HeadError(502, "conflicting Content-Length");
      sawCl = true;
      head.contentLength = n;
    } else if (nameLength === 10 && lower === 99 && equalsLower(buf, pos, "connection")) {
      const [a, b] = trimmed(buf, colon + 1, eol);
      const value = latin1(buf, a, b);
      if (hasToken(value, "close")) head.close = true;
      else if (minor === 0 && hasToken(value, "keep-alive")) head.close = false;
      if (status !== 101) head.drops.push(pos - from, eol + 2 - from);
    } else if (nameLength === 10 && lower === 107 && equalsLower(buf, pos, "keep-alive")) {
      head.drops.push(pos - from, eol + 2 - from);
    } else if (nameLength === 17 && lower === 116 && equalsLower(buf, pos, "transfer-encoding")) {
      const [a, b] = trimmed(buf, colon + 1, eol);
      const value = latin1(buf, a, b);
      te = te === null ? value : `${te}, ${value}`;
    } else if (nameLength === 16 && lower === 112 && equalsLower(buf, pos, "proxy-connection")) {
      head.drops.push(pos - from, eol + 2 - from);
    } else if (nameLength === 7 && lower === 115 && equalsLower(buf, pos, "sozu-id")) {
      head.drops.push(pos - from, eol + 2 - from);
    }
    pos = eol + 2;
  }
  if (te !== null) {
    const codings = (te as string).split(",");
    head.chunked = codings[codings.length - 1]!.trim().toLowerCase() === "chunked";
    // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3); never trust both, and
    // never reuse a connection whose framing was ambiguous.
    if (sawCl) head.close = true;
    head.contentLength = -1;
    if (!head.chunked) head.close = true;
  }
  return head;
}
