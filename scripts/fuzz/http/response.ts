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

/** Parses the responses in `b`; `methods[k]` is the method of the k-th request sent. */
export function parseResponses(
  b: Uint8Array,
  methods: readonly string[],
  closed: boolean,
): ParsedStream {
  const responses: ParsedResponse[] = [];
  let at = 0;
  while (at < b.length) {
    const end = findHeadEnd(b, at);
    if (end < 0) {
      return {
        responses,
        error: b.length - at > 65536 ? "response head too long" : null,
        rest: b.length - at,
      };
    }
    const lines = latin1.decode(b.subarray(at, end - 4)).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?$/.exec(lines[0]!);
    if (!m) {
      return {
        responses,
        error: `bad status line ${JSON.stringify(lines[0]!.slice(0, 60))}`,
        rest: b.length - at,
      };
    }
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      if (colon <= 0) {
        return {
          responses,
          error: `bad response header ${JSON.stringify(line.slice(0, 60))}`,
          rest: b.length - at,
        };
      }
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
    }
    if (status >= 100 && status < 200 && status !== 101) {
      at = end;
      continue;
    }
    const method = methods[responses.length] ?? "GET";
    let bodyEnd: number;
    if (status === 101 || status === 204 || status === 304) bodyEnd = end;
    else if (method === "HEAD" && headAnswer(b, end, headers)) bodyEnd = end;
    else if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
      const e = chunkedEnd(b, end);
      if (e === "bad") {
        return { responses, error: "bad chunked response body", rest: b.length - at };
      }
      if (e < 0) return { responses, error: null, rest: b.length - at };
      bodyEnd = e;
    } else if (headers.has("content-length")) {
      const n = Number(headers.get("content-length"));
      if (!Number.isSafeInteger(n) || n < 0) {
        return { responses, error: "bad response Content-Length", rest: b.length - at };
      }
      if (b.length < end + n) return { responses, error: null, rest: b.length - at };
      bodyEnd = end + n;
    } else {
      if (!closed) return { responses, error: null, rest: b.length - at };
      bodyEnd = b.length;
    }
    responses.push({
      status,
      fromBackend: headers.get("x-rec") === "1",
      echoId: headers.get("x-echo-id") ?? null,
      echoBody: headers.get("x-echo-body") ?? null,
      close: /close/i.test(headers.get("connection") ?? ""),
    });
    at = bodyEnd;
    if (status === 101) break;
  }
  return { responses, error: null, rest: 0 };
}
