/** Byte writes shared by the session, the exchange and the relay. */
import type { ByteConn } from "./backend_pool.ts";

/** Writes every byte (a plain function: the common single-write case adds no async frame). */
export function writeAll(conn: ByteConn, data: Uint8Array): Promise<void> {
  return conn.write(data).then((n) => n < data.byteLength ? writeRest(conn, data, n) : undefined);
}

async function writeRest(conn: ByteConn, data: Uint8Array, off: number): Promise<void> {
  while (off < data.byteLength) off += await conn.write(data.subarray(off));
}

/** Writes `text` (Latin-1, one byte per char) into `out` at `pos`; returns the end. */
export function writeLatin1(text: string, out: Uint8Array, pos: number): number {
  for (let i = 0; i < text.length; i++) out[pos + i] = text.charCodeAt(i) & 0xff;
  return pos + text.length;
}
