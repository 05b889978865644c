/**
 * One corpus connection against a front (the proxy or nginx): write all its bytes, read the
 * responses until there is one per request sent, the server closes, or nothing arrives for a
 * while (`idleMs`); then close the write side and give the server a few seconds to close. A
 * server that does neither is reported as hung.
 *
 * @module
 */
import { writeFull } from "../raw_ws.ts";
import type { CorpusConnection } from "./corpus.ts";
import { type ParsedStream, parseResponses } from "./response.ts";

/** What one connection got. */
export interface ExchangeResult {
  parsed: ParsedStream;
  /** The server closed the connection. */
  closed: boolean;
  /** Neither all responses nor a close within the grace period after the client's EOF. */
  hung: boolean;
}

const IDLE_MS = 300;
const GRACE_MS = 5000;

function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Runs one connection against 127.0.0.1:`port`. */
export async function exchange(
  port: number,
  c: CorpusConnection,
  idleMs = IDLE_MS,
): Promise<ExchangeResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const methods = c.requests.map((r) => r.method);
  let received: Uint8Array = new Uint8Array(0);
  let closed = false;
  let halfClosed = false;
  let forced = false;
  let lastActivity = performance.now();
  const writing = writeFull(conn, c.bytes).catch(() => {}).finally(() =>
    lastActivity = performance.now()
  );
  const buf = new Uint8Array(65536);
  const timer = setInterval(() => {
    const idle = performance.now() - lastActivity;
    if (!halfClosed && idle > idleMs) {
      halfClosed = true;
      lastActivity = performance.now();
      conn.closeWrite().catch(() => {});
    } else if (halfClosed && idle > GRACE_MS) {
      forced = true;
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }, 50);
  let hung = false;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) {
        closed = true;
        break;
      }
      lastActivity = performance.now();
      received = append(received, buf.subarray(0, n));
      const parsed = parseResponses(received, methods, false);
      if (parsed.error || parsed.responses.length >= c.requests.length) break;
    }
  } catch {
    if (forced) hung = true;
    else closed = true;
  } finally {
    clearInterval(timer);
    await writing;
    try {
      conn.close();
    } catch {
      // closed
    }
  }
  const parsed = parseResponses(received, methods, closed);
  if (hung && parsed.responses.length >= c.requests.length) hung = false;
  return { parsed, closed, hung };
}
