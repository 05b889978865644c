/**
 * An HTTP/1.1 request as the fuzzer holds it before writing: every piece of the request line and
 * of each header line separately (so a mutation can change one separator), and the body already
 * framed (Content-Length or chunked bytes) with the payload it is meant to carry.
 *
 * @module
 */

/** One header line. */
export interface WireHeader {
  name: string;
  /** What separates the name from the value (normally ": "). */
  colon: string;
  value: string;
  /** The line ending (normally CRLF). */
  end: string;
}

/** One chunk of a chunked body. */
export interface WireChunk {
  /** The size field as written (normally the data length in hex). */
  size: string;
  ext: string;
  data: string;
  /** After the data (normally CRLF). */
  end: string;
}

/** A request ready to be written. */
export interface WireRequest {
  /** The id the backend echoes (also in X-Fuzz-Id). */
  id: string;
  method: string;
  target: string;
  version: string;
  sep1: string;
  sep2: string;
  lineEnd: string;
  headers: WireHeader[];
  headEnd: string;
  body: { kind: "none" } | { kind: "length"; data: string } | {
    kind: "chunked";
    chunks: WireChunk[];
    /** The last chunk, trailers and final CRLF, as written. */
    tail: string;
  };
  /** The payload the body carries when its framing was left alone, else null. */
  intended: string | null;
  /** Mutations applied (empty: a valid request). */
  labels: string[];
  /** Bytes written after this request's own bytes (a smuggled request, garbage). */
  suffix: string;
}

/** The framed body bytes of a request. */
export function bodyText(r: WireRequest): string {
  const b = r.body;
  if (b.kind === "none") return "";
  if (b.kind === "length") return b.data;
  return b.chunks.map((c) => `${c.size}${c.ext}\r\n${c.data}${c.end}`).join("") + b.tail;
}

/** The request as the text written on the wire (latin-1 pieces kept as bytes by the caller). */
export function requestText(r: WireRequest): string {
  const line = `${r.method}${r.sep1}${r.target}${r.sep2}${r.version}${r.lineEnd}`;
  const headers = r.headers.map((h) => `${h.name}${h.colon}${h.value}${h.end}`).join("");
  return line + headers + r.headEnd + bodyText(r) + r.suffix;
}

/** Sets (or adds) a header's value; returns the request. */
export function setHeader(r: WireRequest, name: string, value: string): WireRequest {
  const h = r.headers.find((x) => x.name.toLowerCase() === name.toLowerCase());
  if (h) h.value = value;
  else r.headers.push({ name, colon: ": ", value, end: "\r\n" });
  return r;
}

/** Removes every header named `name`. */
export function dropHeader(r: WireRequest, name: string): void {
  r.headers = r.headers.filter((h) => h.name.toLowerCase() !== name.toLowerCase());
}

/** Encodes text whose code points above 0x7f stand for single bytes (latin-1), or UTF-8. */
export function wireBytes(text: string, latin1: boolean): Uint8Array {
  if (!latin1) return new TextEncoder().encode(text);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}
