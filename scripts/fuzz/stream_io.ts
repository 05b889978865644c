/**
 * Byte-stream helpers for the socket targets: write everything, read until the peer closes, a
 * condition holds, or a deadline passes (a deadline is reported, since a listener that neither
 * answers nor closes is what the fuzzer looks for).
 *
 * @module
 */
import { writeFull } from "./raw_ws.ts";

/** What a read-until returned. */
export interface ReadResult {
  bytes: Uint8Array;
  /** The peer closed (EOF or reset). */
  closed: boolean;
  /** The deadline passed first. */
  timedOut: boolean;
}

function append(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Reads until the peer closes, `enough(bytes)` is true, or `timeoutMs` pass. */
export async function readUntil(
  conn: Deno.Conn,
  timeoutMs: number,
  enough: (bytes: Uint8Array) => boolean = () => false,
): Promise<ReadResult> {
  let bytes: Uint8Array = new Uint8Array(0);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // closed
    }
  }, timeoutMs);
  const buf = new Uint8Array(65536);
  let closed = false;
  if (enough(bytes)) {
    clearTimeout(timer);
    return { bytes, closed, timedOut };
  }
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) {
        closed = true;
        break;
      }
      bytes = append(bytes, buf.subarray(0, n));
      if (enough(bytes)) break;
    }
  } catch {
    closed = !timedOut;
  } finally {
    clearTimeout(timer);
  }
  return { bytes, closed, timedOut };
}

/** Writes `bytes`; false when the peer is gone. */
export async function sendAll(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  try {
    await writeFull(conn, bytes);
    return true;
  } catch {
    return false;
  }
}

/** Closes quietly. */
export function closeConn(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed
  }
}

/** Opens `n` connections, writes a part or all of each frame, and closes them at once. */
export async function burstConnections(
  connect: () => Promise<Deno.Conn>,
  payloads: Uint8Array[],
  cut: (bytes: Uint8Array) => Uint8Array,
): Promise<void> {
  await Promise.all(payloads.map(async (bytes) => {
    let conn: Deno.Conn;
    try {
      conn = await connect();
    } catch {
      return;
    }
    await sendAll(conn, cut(bytes));
    closeConn(conn);
  }));
}
