/**
 * Strict response head parsing: {@linkcode scanResponseHead} finds and parses a backend's
 * response head in one pass over the bytes (byte-class table of head_bytes.ts), decoding only the
 * few framing headers; anything not valid HTTP/1.x is refused with a 502.
 */
import {
  C_FIELD,
  C_NAME,
  CLASS,
  decimal,
  equalsLower,
  HeadError,
  isDigit,
  latin1,
  startsWith,
} from "./head_bytes.ts";

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

function hasToken(list: string, token: string): boolean {
  for (const part of list.split(",")) {
    if (part.trim().toLowerCase() === token) return true;
  }
  return false;
}

/**
 * Finds and parses a response head starting at `buf[from]` in one pass over `buf[from, to)`
 * (the hot path decodes nothing but the few framing headers). Returns null when the head is not
 * complete yet (call again with more bytes); `length` is where it ends. Throws
 * {@linkcode HeadError} with status 502 when the backend's answer is not valid HTTP/1.x: a
 * malformed status line, a bare CR or LF, NUL, a line without a colon, obs-fold, or invalid or
 * conflicting framing. `stickyName` (sticky applications): Set-Cookie lines whose value starts
 * with it are dropped.
 * Long on purpose: one pass over the bytes, each header line checked and read inline.
 */
export function scanResponseHead(
  buf: Uint8Array,
  from: number,
  to: number,
  stickyName: string | null = null,
): ResponseHead | null {
  // indexOf runs on past `to` into whatever the buffer held before: nothing read, nothing to do.
  if (to <= from) return null;
  const lf = buf.indexOf(10, from);
  if (lf < 0 || lf >= to) {
    if (to - from > 12) checkStatusLine(buf, from, to, false);
    return null;
  }
  if (lf - from < 13 || buf[lf - 1] !== 13) throw new HeadError(502, "malformed status line");
  checkStatusLine(buf, from, lf - 1, true);
  for (let i = from + 13; i < lf - 1; i++) {
    if ((CLASS[buf[i]!]! & C_FIELD) === 0) throw new HeadError(502, "bare CR in status line");
  }
  const minor = buf[from + 7]! - 48;
  const status = (buf[from + 9]! - 48) * 100 + (buf[from + 10]! - 48) * 10 + buf[from + 11]! - 48;
  if (status < 100) throw new HeadError(502, "malformed status code");
  let contentLength = -1;
  let close = minor === 0;
  const drops: number[] = [];
  let te: string | null = null;
  let sawCl = false;
  let pos = lf + 1;
  while (true) {
    if (pos >= to) return null;
    const first = buf[pos]!;
    if (first === 13) {
      if (pos + 1 >= to) return null;
      if (buf[pos + 1] !== 10) throw new HeadError(502, "bare CR in response head");
      break;
    }
    if (first === 10) throw new HeadError(502, "bare LF in response head");
    if (first === 32 || first === 9) throw new HeadError(502, "obsolete line folding");
    let colon = pos;
    while (colon < to && (CLASS[buf[colon]!]! & C_NAME) !== 0) colon++;
    if (colon === to) return null;
    if (buf[colon] !== 58 || colon === pos) {
      throw new HeadError(502, "header line without a colon");
    }
    let vs = colon + 1;
    while (buf[vs] === 32 || buf[vs] === 9) vs++;
    let eol = vs;
    while (eol < to && (CLASS[buf[eol]!]! & C_FIELD) !== 0) eol++;
    if (eol >= to) return null;
    if (buf[eol] !== 13) {
      throw new HeadError(
        502,
        buf[eol] === 0 ? "NUL in response head" : "bare LF in response head",
      );
    }
    if (eol + 1 >= to) return null;
    if (buf[eol + 1] !== 10) throw new HeadError(502, "bare CR in response head");
    let ve = eol;
    while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
    const nameLength = colon - pos;
    const lower = first | 0x20;
    if (nameLength === 14 && lower === 99 && equalsLower(buf, pos, "content-length")) {
      const n = decimal(buf, vs, ve);
      if (n < 0) throw new HeadError(502, "invalid Content-Length");
      if (sawCl && contentLength !== n) throw new HeadError(502, "conflicting Content-Length");
      sawCl = true;
      contentLength = n;
    } else if (nameLength === 10 && lower === 99 && equalsLower(buf, pos, "connection")) {
      if (ve - vs === 10 && equalsLower(buf, vs, "keep-alive")) {
        if (minor === 0) close = false;
      } else if (ve - vs === 5 && equalsLower(buf, vs, "close")) {
        close = true;
      } else {
        const value = latin1(buf, vs, ve);
        if (hasToken(value, "close")) close = true;
        else if (minor === 0 && hasToken(value, "keep-alive")) close = false;
      }
      if (status !== 101) drops.push(pos - from, eol + 2 - from);
    } else if (nameLength === 10 && lower === 107 && equalsLower(buf, pos, "keep-alive")) {
      drops.push(pos - from, eol + 2 - from);
    } else if (
      stickyName !== null && nameLength === 10 && lower === 115 &&
      equalsLower(buf, pos, "set-cookie") && startsWith(buf, vs, ve, stickyName)
    ) {
      // A sticky application's backend may not set the sticky cookie itself (sozu drops it).
      drops.push(pos - from, eol + 2 - from);
    } else if (nameLength === 17 && lower === 116 && equalsLower(buf, pos, "transfer-encoding")) {
      const value = latin1(buf, vs, ve);
      te = te === null ? value : `${te}, ${value}`;
    } else if (nameLength === 16 && lower === 112 && equalsLower(buf, pos, "proxy-connection")) {
      drops.push(pos - from, eol + 2 - from);
    } else if (nameLength === 7 && lower === 115 && equalsLower(buf, pos, "sozu-id")) {
      drops.push(pos - from, eol + 2 - from);
    }
    pos = eol + 2;
  }
  let chunked = false;
  if (te !== null) {
    const codings = (te as string).split(",");
    chunked = codings[codings.length - 1]!.trim().toLowerCase() === "chunked";
    // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3); never trust both, and
    // never reuse a connection whose framing was ambiguous.
    if (sawCl) close = true;
    contentLength = -1;
    if (!chunked) close = true;
  }
  return { status, minor, contentLength, chunked, close, drops, length: pos + 2 - from };
}

/**
 * Checks "HTTP/1.x SSS" then SP (or the line's end) at `buf[from, to)`: the whole line up to its
 * CR when `complete`, else the part received so far (whose next byte may still be the CR).
 */
function checkStatusLine(buf: Uint8Array, from: number, to: number, complete: boolean): void {
  const after = buf[from + 12];
  if (
    buf[from] !== 72 || buf[from + 1] !== 84 || buf[from + 2] !== 84 ||
    buf[from + 3] !== 80 || buf[from + 4] !== 47 || buf[from + 5] !== 49 ||
    buf[from + 6] !== 46 || (buf[from + 7] !== 48 && buf[from + 7] !== 49) ||
    buf[from + 8] !== 32 || !isDigit(buf[from + 9]!) || !isDigit(buf[from + 10]!) ||
    !isDigit(buf[from + 11]!) ||
    (to > from + 12 && after !== 32 && (complete || after !== 13 || to > from + 13))
  ) {
    throw new HeadError(502, "malformed status line");
  }
}
