/**
 * A cryptoded client: one request per connection, reply read to EOF. Connection failures become
 * the document's client-side codes (COD_NOT_RUNNING when nobody listens, SOCK_CONN otherwise).
 */
import { concatBytes, connectUnix } from "../../core/mod.ts";
import { Resp } from "./codes.ts";
import { closeQuietly } from "./socket_io.ts";

/** A reply as received. */
export interface ClientReply {
  code: number;
  data?: unknown;
  /** The raw reply text. */
  raw: string;
}

/** Sends one request and returns the raw reply text. */
export async function sendRaw(
  path: string,
  payload: string | Uint8Array,
  timeoutMs = 10_000,
): Promise<string> {
  let conn: Deno.UnixConn;
  try {
    conn = await connectUnix(path, timeoutMs);
  } catch (error) {
    throw connectError(path, error);
  }
  const timer = setTimeout(() => closeQuietly(conn), timeoutMs);
  try {
    const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    await conn.closeWrite(); // one request per connection: the daemon sees its end
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(concatBytes(chunks));
  } catch (error) {
    throw new ClientError(
      Resp.SOCK_CONN,
      `connection to "${path}" failed: ${(error as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/** A client-side failure carrying a response code. */
export class ClientError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.name = "ClientError";
    this.code = code;
  }
}

function connectError(path: string, error: unknown): ClientError {
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused) {
    return new ClientError(
      Resp.COD_NOT_RUNNING,
      `cryptoded is not running (no listener at "${path}")`,
    );
  }
  return new ClientError(
    Resp.SOCK_CONN,
    `cannot connect to "${path}": ${(error as Error).message}`,
  );
}

/** Sends `{cmd, param, json: true, detail: true}` and parses the JSON reply. */
export async function request(
  path: string,
  cmd: number,
  param: unknown,
  timeoutMs = 10_000,
): Promise<ClientReply> {
  const raw = await sendRaw(
    path,
    JSON.stringify({ cmd, param, json: true, detail: true }),
    timeoutMs,
  );
  try {
    const body = JSON.parse(raw) as { code: number; data?: unknown };
    if (typeof body.code !== "number") throw new Error("no code");
    return { code: body.code, data: body.data, raw };
  } catch {
    throw new ClientError(Resp.SOCK_CONN, `unreadable reply: ${JSON.stringify(raw.slice(0, 200))}`);
  }
}
