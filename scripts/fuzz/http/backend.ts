/**
 * The recording backend behind the proxy (and behind nginx): a raw TCP server that reads each
 * forwarded request with a strict HTTP/1.1 parser, records which client request it is (its
 * X-Fuzz-Id) and any framing a strict reader would call ambiguous (Content-Length with
 * Transfer-Encoding, two lengths, a coding other than chunked, bare LF, obs-fold, control
 * bytes), and answers 200 echoing the id and a digest of the body it received.
 *
 * @module
 */
import { closeConn, concatBytes } from "../stream_io.ts";

/** One request the backend received. */
export interface BackendRecord {
  id: string;
  method: string;
  /** `length:hash` of the decoded body. */
  body: string;
}

/** What the backend saw, by client connection index. */
export interface BackendLog {
  records: Map<number, BackendRecord[]>;
  /** Heads a strict reader refuses, with the id when it could be read. */
  violations: { index: number; id: string; problem: string }[];
  /** Requests whose body ended early because the connection closed (the client stopped). */
  aborted: string[];
}

/** A body that ended because the connection closed. */
const ABORTED = "aborted";

const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** FNV-1a of bytes, as hex. */
export function digest(bytes: Uint8Array | string): string {
  const b = typeof bytes === "string" ? encoder.encode(bytes) : bytes;
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return `${b.length}:${h.toString(16)}`;
}

/** The connection index of an id `<index>-<k>` or `S<index>-<k>`. */
export function indexOf(id: string): number {
  const m = /^S?(\d+)-\d+$/.exec(id);
  return m ? Number(m[1]) : -1;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Checks a forwarded head strictly; returns its framing or the problem. */
function checkHead(
  lines: string[],
): { method: string; id: string; framing: "none" | number | "chunked"; close: boolean } | string {
  // deno-lint-ignore no-control-regex -- control bytes are what is checked
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\s\x00-\x1f\x7f]+) HTTP\/1\.[01]$/.exec(lines[0]!);
  if (!m) return `bad request line ${JSON.stringify(lines[0]!.slice(0, 60))}`;
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (/^[ \t]/.test(line)) return "obs-fold forwarded";
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) {
      return `bad header line ${JSON.stringify(line.slice(0, 60))}`;
    }
    const value = line.slice(colon + 1).trim();
    // deno-lint-ignore no-control-regex -- control bytes are what is checked
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return `control byte in ${name}`;
    headers.push([name.toLowerCase(), value]);
  }
  const get = (n: string) => headers.filter(([k]) => k === n).map(([, v]) => v);
  const id = get("x-fuzz-id")[0] ?? /\/(?:fz|smuggled)\/(S?\d+-\d+)/.exec(m[2]!)?.[1] ?? "?";
  const cl = get("content-length");
  const te = get("transfer-encoding");
  const close = get("connection").some((v) => /close/i.test(v));
  if (te.length > 0 && cl.length > 0) {
    return "Content-Length and Transfer-Encoding forwarded together";
  }
  if (te.length > 1 || (te.length === 1 && te[0]!.toLowerCase() !== "chunked")) {
    return `Transfer-Encoding ${JSON.stringify(te.join(", "))} forwarded`;
  }
  if (cl.length > 1) return "two Content-Length headers forwarded";
  if (cl.length === 1 && !/^\d{1,15}$/.test(cl[0]!)) {
    return `Content-Length ${JSON.stringify(cl[0])} forwarded`;
  }
  const framing = te.length === 1 ? "chunked" : cl.length === 1 ? Number(cl[0]) : "none";
  return { method: m[1]!, id, framing, close };
}

/** A buffered reader over one connection. */
class Reader {
  #conn: Deno.Conn;
  buf: Uint8Array = new Uint8Array(0);
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }
  /** Reads more; false at EOF. */
  async more(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    this.buf = concatBytes([this.buf, chunk.subarray(0, n)]);
    return true;
  }
  /** Takes bytes up to and including `delimiter`, or null at EOF. */
  async until(delimiter: string, max: number): Promise<Uint8Array | null | "long"> {
    for (;;) {
      const text = latin1.decode(this.buf);
      const at = text.indexOf(delimiter);
      if (at >= 0) {
        const out = this.buf.slice(0, at + delimiter.length);
        this.buf = this.buf.slice(at + delimiter.length);
        return out;
      }
      if (this.buf.length > max) return "long";
      if (!(await this.more())) return null;
    }
  }
  /** Takes exactly `n` bytes, or null at EOF. */
  async take(n: number): Promise<Uint8Array | null> {
    while (this.buf.length < n) if (!(await this.more())) return null;
    const out = this.buf.slice(0, n);
    this.buf = this.buf.slice(n);
    return out;
  }
}

/** Reads a chunked body strictly; the decoded bytes, or the problem. */
async function readChunked(r: Reader): Promise<Uint8Array | string> {
  const parts: Uint8Array[] = [];
  for (;;) {
    const line = await r.until("\r\n", 8192);
    if (line === null) return ABORTED;
    if (line === "long") return "chunk size line too long";
    const text = latin1.decode(line).slice(0, -2);
    // deno-lint-ignore no-control-regex -- control bytes are what is checked
    const m = /^([0-9a-fA-F]{1,15})([ \t]*;[^\x00-\x08\x0a-\x1f\x7f]*)?$/.exec(text);
    if (!m) return `bad chunk size line ${JSON.stringify(text.slice(0, 30))}`;
    const size = parseInt(m[1]!, 16);
    if (size === 0) break;
    const data = await r.take(size + 2);
    if (data === null) return ABORTED;
    if (data[size] !== 13 || data[size + 1] !== 10) return "chunk not followed by CRLF";
    parts.push(data.subarray(0, size));
  }
  for (;;) {
    const line = await r.until("\r\n", 8192);
    if (line === null) return ABORTED;
    if (line === "long") return "trailer too long";
    if (line.length === 2) break;
    const trailer = latin1.decode(line).slice(0, -2);
    // deno-lint-ignore no-control-regex -- control bytes are what is checked
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\x00-\x08\x0a-\x1f\x7f]*$/.test(trailer)) {
      return `trailer that is not a field line forwarded: ${JSON.stringify(trailer.slice(0, 40))}`;
    }
  }
  return concatBytes(parts);
}

/** Serves one forwarded connection until it ends or a request is refused. */
async function serveConnection(conn: Deno.Conn, log: BackendLog, keep: boolean): Promise<void> {
  const r = new Reader(conn);
  for (;;) {
    const head = await r.until("\r\n\r\n", 256 * 1024);
    if (head === null) return;
    const text = head === "long" ? "" : latin1.decode(head).slice(0, -4);
    const checked = head === "long"
      ? "head over 256 KiB"
      : /\r(?!\n)|(?<!\r)\n/.test(text)
      ? "bare CR or LF forwarded"
      : checkHead(text.split("\r\n"));
    if (typeof checked === "string") {
      const id = /X-Fuzz-Id: *(S?\d+-\d+)/i.exec(text)?.[1] ?? "?";
      log.violations.push({ index: indexOf(id), id, problem: checked });
      await conn.write(
        encoder.encode(
          "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ),
      ).catch(() => {});
      return;
    }
    let body: Uint8Array | string = new Uint8Array(0);
    if (checked.framing === "chunked") body = await readChunked(r);
    else if (typeof checked.framing === "number") body = (await r.take(checked.framing)) ?? ABORTED;
    if (body === ABORTED) {
      log.aborted.push(checked.id); // the client stopped sending: the proxy gave up the request
      return;
    }
    if (typeof body === "string") {
      log.violations.push({ index: indexOf(checked.id), id: checked.id, problem: body });
      return;
    }
    const record = { id: checked.id, method: checked.method, body: digest(body) };
    if (keep) {
      const index = indexOf(checked.id);
      const list = log.records.get(index);
      if (list) list.push(record);
      else log.records.set(index, [record]);
    }
    const reply =
      `HTTP/1.1 200 OK\r\nX-Rec: 1\r\nX-Echo-Id: ${checked.id}\r\nX-Echo-Body: ${record.body}\r\n` +
      `Content-Length: ${checked.method === "HEAD" ? 0 : 3}\r\n\r\n${
        checked.method === "HEAD" ? "" : "ok\n"
      }`;
    await conn.write(encoder.encode(reply));
    if (checked.close) return;
  }
}

/** A running recording backend. */
export interface RecordingBackend extends AsyncDisposable {
  address: string;
  log: BackendLog;
  /** Forgets what it recorded for connections below `index`. */
  forgetBelow(index: number): void;
}

/** Starts a recording backend on a free loopback port (`record: false`: answer only). */
export function startRecordingBackend(options: { record?: boolean } = {}): RecordingBackend {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const log: BackendLog = { records: new Map(), violations: [], aborted: [] };
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      serveConnection(conn, log, options.record ?? true).catch(() => {}).finally(() => {
        conns.delete(conn);
        closeConn(conn);
      });
    }
  })().catch(() => {});
  return {
    address: `127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    log,
    forgetBelow(index: number) {
      for (const key of log.records.keys()) if (key < index) log.records.delete(key);
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) closeConn(c);
      await loop;
    },
  };
}
