/**
 * One corpus connection against a front (the proxy or nginx): write all its bytes, read the
 * responses until there is one per request sent, the server closes, or nothing arrives for a
 * while (`idleMs`); then close the write side and give the server a few seconds to close. A
 * server that does neither is reported as hung.
 *
 * @module
 */
import { closeConn, readLoop, writeFull } from "../stream_io.ts";
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

/** Runs one connection against 127.0.0.1:`port`. */
export async function exchange(
  port: number,
  c: CorpusConnection,
  idleMs = IDLE_MS,
): Promise<ExchangeResult> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const methods = c.requests.map((r) => r.method);
  let halfClosed = false;
  let forced = false;
  let lastActivity = performance.now();
  const writing = writeFull(conn, c.bytes).catch(() => {}).finally(() =>
    lastActivity = performance.now()
  );
  // nothing for a while: close our side; still nothing after the grace period: give up (hung)
  const timer = setInterval(() => {
    const idle = performance.now() - lastActivity;
    if (!halfClosed && idle > idleMs) {
      halfClosed = true;
      lastActivity = performance.now();
      conn.closeWrite().catch(() => {});
    } else if (halfClosed && idle > GRACE_MS) {
      forced = true;
      closeConn(conn);
    }
  }, 50);
  const { bytes, end } = await readLoop(conn, (received) => {
    lastActivity = performance.now();
    const parsed = parseResponses(received, methods, false);
    return parsed.error !== null || parsed.responses.length >= c.requests.length;
  });
  clearInterval(timer);
  await writing;
  closeConn(conn);
  const closed = end === "eof" || (end === "error" && !forced);
  const parsed = parseResponses(bytes, methods, closed);
  const hung = end === "error" && forced && parsed.responses.length < c.requests.length;
  return { parsed, closed, hung };
}
