/**
 * Byte-stream helpers for the socket targets: write everything, read until the peer closes, a
 * condition holds, or a deadline passes (a deadline is reported, since a listener that neither
 * answers nor closes is what the fuzzer looks for).
 *
 * @module
 */

/** What a read-until returned. */
export interface ReadResult {
  bytes: Uint8Array;
  /** The peer closed (EOF or reset). */
  closed: boolean;
  /** The deadline passed first. */
  timedOut: boolean;
}

import { concatBytes } from "../../lib/core/mod.ts";

export { concatBytes };

/** `a` then `b`. */
export function appendBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  return concatBytes([a, b]);
}

/** Frames joined, each followed by `delimiter` (newline for cryptoded, NUL for sozu). */
export function joinFrames(
  frames: readonly { bytes: Uint8Array }[],
  delimiter: number,
): Uint8Array {
  const end = new Uint8Array([delimiter]);
  return concatBytes(frames.flatMap((f) => [f.bytes, end]));
}

/**
 * Reads, handing everything read so far to `enough` after each read, until it says so ("enough"),
 * the peer closes ("eof"), or the read fails ("error": reset, or closed by a timer of the caller).
 */
export async function readLoop(
  conn: Deno.Conn,
  enough: (bytes: Uint8Array) => boolean,
): Promise<{ bytes: Uint8Array; end: "enough" | "eof" | "error" }> {
  let bytes: Uint8Array = new Uint8Array(0);
  if (enough(bytes)) return { bytes, end: "enough" };
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return { bytes, end: "eof" };
      bytes = appendBytes(bytes, buf.subarray(0, n));
      if (enough(bytes)) return { bytes, end: "enough" };
    }
  } catch {
    return { bytes, end: "error" };
  }
}

/** Reads until the peer closes, `enough(bytes)` is true, or `timeoutMs` pass. */
export async function readUntil(
  conn: Deno.Conn,
  timeoutMs: number,
  enough: (bytes: Uint8Array) => boolean = () => false,
): Promise<ReadResult> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeConn(conn);
  }, timeoutMs);
  const { bytes, end } = await readLoop(conn, enough);
  clearTimeout(timer);
  return { bytes, closed: end === "eof" || (end === "error" && !timedOut), timedOut };
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

/**
 * Opens a connection per frame, writes all of it or (half the time) a random part, and closes it
 * at once without reading.
 */
export async function burstConnections(
  connect: () => Promise<Deno.Conn>,
  frames: readonly { bytes: Uint8Array }[],
  rng: { chance(p: number): boolean; int(n: number): number },
): Promise<void> {
  await Promise.all(frames.map(async ({ bytes }) => {
    let conn: Deno.Conn;
    try {
      conn = await connect();
    } catch {
      return;
    }
    await sendAll(conn, rng.chance(0.5) ? bytes.subarray(0, rng.int(bytes.length + 1)) : bytes);
    closeConn(conn);
  }));
}

/** Writes every byte. */
export async function writeFull(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}
