/**
 * One peer of the control socket: reads its bytes, splits them into requests
 * (stream_parser.ts), decodes each (schemas.ts), checks privilege, dispatches through the handler
 * table, and writes each encoded reply (errors.ts). The connection ends once every complete
 * request it sent has been answered; a bad client only loses its own connection.
 */
import type { Logger } from "../../core/mod.ts";
import { Resp } from "./codes.ts";
import { cryptodedErrorReply, type CryptodedReply, encodeCryptodedReply } from "./errors.ts";
import type { CryptodedHandlerContext, CryptodedHandlerTable } from "./handlers.ts";
import { describeCryptodedIssue, requestSchema } from "./schemas.ts";
import { closeQuietly, writeAllText } from "./socket_io.ts";
import { JsonStreamParser, type ParsedItem } from "./stream_parser.ts";

const IDLE_MS = 30_000;

/** What a connection works with. */
export interface CryptodedConnectionOptions {
  maxRequestBytes: number;
  table: CryptodedHandlerTable;
  context: CryptodedHandlerContext;
  log: Logger;
  /** Whether the peer is root (asked on the first privileged command). */
  isRoot(): Promise<boolean>;
}

/** Reads once; null at EOF, on an error, or when the peer stays quiet for IDLE_MS. */
async function readChunk(conn: Deno.UnixConn, buf: Uint8Array): Promise<number | null | "gone"> {
  // a client that goes quiet mid-request loses its connection, nothing else
  const idle = setTimeout(() => closeQuietly(conn), IDLE_MS);
  try {
    return await conn.read(buf);
  } catch {
    return "gone";
  } finally {
    clearTimeout(idle);
  }
}

/** Serves one accepted connection until it is done. */
export async function serveCryptodedConnection(
  conn: Deno.UnixConn,
  o: CryptodedConnectionOptions,
): Promise<void> {
  const parser = new JsonStreamParser(o.maxRequestBytes);
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = await readChunk(conn, buf);
    if (n === "gone") return;
    const items = n === null ? parser.end() : parser.push(buf.subarray(0, n));
    for (const item of items) {
      if (item.kind === "oversized") {
        const out = encodeCryptodedReply({
          code: Resp.JSON_INVALID,
          data: `request larger than ${o.maxRequestBytes} bytes`,
        }, true);
        await writeAllText(conn, out).catch(() => {});
        return;
      }
      try {
        await writeAllText(conn, await answer(item, o));
      } catch {
        return;
      }
    }
    if (n === null) return;
    if (items.length > 0 && parser.pending === 0) return; // answered everything it sent
  }
}

async function answer(
  item: Exclude<ParsedItem, { kind: "oversized" }>,
  o: CryptodedConnectionOptions,
): Promise<string> {
  if (item.kind === "bad") {
    return encodeCryptodedReply(
      { code: Resp.JSON_INVALID, data: "request is not a JSON object" },
      true,
    );
  }
  return await dispatch(item.text, o);
}

/** Decodes one request, runs its handler, and encodes the reply. */
async function dispatch(text: string, o: CryptodedConnectionOptions): Promise<string> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return encodeCryptodedReply({
      code: Resp.JSON_INVALID,
      data: `invalid JSON: ${(error as Error).message}`,
    }, true);
  }
  const json = typeof raw === "object" && raw !== null && "json" in raw
    ? (raw as { json: unknown }).json !== false
    : true;
  const parsed = requestSchema.safeParse(raw);
  if (!parsed.success) {
    return encodeCryptodedReply(
      { code: Resp.JSON_INVALID, data: describeCryptodedIssue(parsed.error) },
      json,
    );
  }
  const request = parsed.data;
  const handler = o.table.get(request.cmd);
  let reply: CryptodedReply;
  if (!handler) {
    reply = { code: Resp.INVALID_CMD, data: `cmd: unknown command ${request.cmd}` };
  } else if (handler.privileged && !(await o.isRoot())) {
    reply = { code: Resp.SUDO_REQUIRED, data: "this command needs a root client" };
  } else {
    try {
      reply = await handler.handle(request, o.context);
    } catch (error) {
      reply = cryptodedErrorReply(error, o.log);
    }
  }
  return encodeCryptodedReply(reply, json);
}
