/**
 * The client side of the HTTP fuzz: parses the responses a connection received, in order, with
 * their framing (Content-Length, chunked, or until close; none for HEAD, 1xx, 204 and 304), and
 * says which came from the recording backend (`X-Rec`) and which request it echoes.
 *
 * @module
 */

/** One response as received. */
export interface ParsedResponse {
  status: number;
  /** Came from the recording backend. */
  fromBackend: boolean;
  /** The X-Fuzz-Id the backend saw, as it echoes it. */
  echoId: string | null;
  /** The backend's digest of the body it received (`len:hash`). */
  echoBody: string | null;
  /** The server asked to close the connection. */
  close: boolean;
}

/** What a connection's bytes held. */
export interface ParsedStream {
  responses: ParsedResponse[];
  /** A response that does not parse (null when all parse). */
  error: string | null;
  /** Bytes after the last complete response (a partial one). */
  rest: number;
}

const latin1 = new TextDecoder("latin1");

function findHeadEnd(b: Uint8Array, from: number): number {
  for (let i = from; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i + 4;
  }
  return -1;
}

/** Parses a chunked body at `at`; returns the index after it, or -1 when incomplete/invalid. */
function chunkedEnd(b: Uint8Array, at: number): number | "bad" {
  for (;;) {
    const text = latin1.decode(b.subarray(at, Math.min(b.length, at + 64)));
    const eol = text.indexOf("\r\n");
    if (eol < 0) return text.length >= 64 ? "bad" : -1;
    const m = /^([0-9a-fA-F]+)(;[^\r\n]*)?$/.exec(text.slice(0, eol));
    if (!m) return "bad";
    const size = parseInt(m[1]!, 16);
    at += eol + 2;
    if (size === 0) {
      // trailers until an empty line
      for (;;) {
        const t = latin1.decode(b.subarray(at, Math.min(b.length, at + 8192)));
        const e = t.indexOf("\r\n");
        if (e < 0) return -1;
        at += e + 2;
        if (e === 0) return at;
      }
    }
    if (b.length < at + size + 2) return -1;
    at += size + 2;
  }
}

/**
 * Whether the response ending its head at `end` is the bodiless answer to a HEAD. Responses are
 * tied to requests by position, and a mutation can shift that (a body read as a request line):
 * a "HEAD" answer whose next bytes are not a status line but whose Content-Length bytes are
 * followed by one (or by nothing) has a body after all.
 */
function headAnswer(b: Uint8Array, end: number, headers: Map<string, string>): boolean {
  const n = Number(headers.get("content-length") ?? 0);
  const statusAt = (at: number) => latin1.decode(b.subarray(at, at + 7)) === "HTTP/1.";
  if (!(n > 0) || end === b.length || statusAt(end)) return true;
  return !(b.length === end + n || statusAt(end + n));
}

/** A response head: its status and headers (names lower-cased), or what is wrong with it. */
function readHead(
  b: Uint8Array,
  at: number,
  end: number,
): { status: number; headers: Map<string, string> } | string {
  const lines = latin1.decode(b.subarray(at, end - 4)).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(lines[0]!);
  if (!m) return `bad status line ${JSON.stringify(lines[0]!.slice(0, 60))}`;
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `bad response header ${JSON.stringify(line.slice(0, 60))}`;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { status: Number(m[1]), headers };
}

/** Where the body after a head ending at `end` ends: an index, "more" (incomplete) or a problem. */
function bodyEnd(
  b: Uint8Array,
  end: number,
  head: { status: number; headers: Map<string, string> },
  method: string,
  closed: boolean,
): number | "more" | { error: string } {
  const { status, headers } = head;
  if (status === 101 || status === 204 || status === 304) return end;
  if (method === "HEAD" && headAnswer(b, end, headers)) return end;
  if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
    const e = chunkedEnd(b, end);
    return e === "bad" ? { error: "bad chunked response body" } : e < 0 ? "more" : e;
  }
  if (headers.has("content-length")) {
    const n = Number(headers.get("content-length"));
    if (!Number.isSafeInteger(n) || n < 0) return { error: "bad response Content-Length" };
    return b.length < end + n ? "more" : end + n;
  }
  return closed ? b.length : "more";
}

/** Parses the responses in `b`; `methods[k]` is the method of the k-th request sent. */
export function parseResponses(
  b: Uint8Array,
  methods: readonly string[],
  closed: boolean,
): ParsedStream {
  const responses: ParsedResponse[] = [];
  let at = 0;
  while (at < b.length) {
    const rest = b.length - at;
    const end = findHeadEnd(b, at);
    if (end < 0) return { responses, error: rest > 65536 ? "response head too long" : null, rest };
    const head = readHead(b, at, end);
    if (typeof head === "string") return { responses, error: head, rest };
    if (head.status >= 100 && head.status < 200 && head.status !== 101) {
      at = end;
      continue;
    }
    const next = bodyEnd(b, end, head, methods[responses.length] ?? "GET", closed);
    if (next === "more") return { responses, error: null, rest };
    if (typeof next === "object") return { responses, error: next.error, rest };
    const h = head.headers;
    responses.push({
      status: head.status,
      fromBackend: h.get("x-rec") === "1",
      echoId: h.get("x-echo-id") ?? null,
      echoBody: h.get("x-echo-body") ?? null,
      close: /close/i.test(h.get("connection") ?? ""),
    });
    at = next;
    if (head.status === 101) break;
  }
  return { responses, error: null, rest: 0 };
}
