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
