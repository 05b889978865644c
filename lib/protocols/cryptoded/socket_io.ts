/** Small helpers for the control socket's connections, shared by the server side and the client. */

/** Closes `conn`, ignoring one that is already closed. */
export function closeQuietly(conn: Deno.UnixConn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/** Writes all of `text`. */
export async function writeAllText(conn: Deno.UnixConn, text: string): Promise<void> {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/**
 * Ends the write side and reads away what the client still sends (up to 1 MiB, within 2 s), so
 * closing does not reset the reply away; then closes.
 */
export async function drainAndClose(conn: Deno.UnixConn): Promise<void> {
  const timer = setTimeout(() => closeQuietly(conn), 2000);
  try {
    await conn.closeWrite();
    const sink = new Uint8Array(4096);
    let total = 0;
    for (let n = await conn.read(sink); n !== null && total < 1 << 20; n = await conn.read(sink)) {
      total += n;
    }
  } catch {
    // gone
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}
