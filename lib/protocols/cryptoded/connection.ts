/**
 * One peer of a control socket: reads its bytes, splits them into requests (stream_parser.ts),
 * decodes each (schemas.ts), checks privilege, dispatches through the dialect's handler table,
 * and writes each reply in the dialect's form (dialect.ts). The first reply is written exactly as
 * the original daemon would (no trailing newline: the real clients print it as it is); further
 * replies on the same connection are preceded by a newline. The connection ends once every
 * complete request it sent has been answered; a bad client only loses its own connection. Every
 * request is logged with its reply code: at debug level, or at info when it was refused.
 */
import type { AdmittedConnection, ExpiryReason, ListenerLimits, Logger } from "../../core/mod.ts";
import { respName } from "./codes.ts";
import type { CryptodedDialect, CryptodedReply } from "./dialect.ts";
import { cryptodedFailure } from "./errors.ts";
import type { CryptodedHandlerContext, CryptodedHandlerTable } from "./handlers.ts";
import { type CryptodedRequest, describeCryptodedIssue, requestSchema } from "./schemas.ts";
import { closeQuietly, drainAndClose, writeAllText } from "./socket_io.ts";
import { JsonStreamParser, type ParsedItem } from "./stream_parser.ts";

/** What a connection works with. */
export interface CryptodedConnectionOptions {
  maxRequestBytes: number;
  dialect: CryptodedDialect;
  table: CryptodedHandlerTable;
  context: CryptodedHandlerContext;
  log: Logger;
  /** Whether the peer is root (asked on the first privileged command). */
  isRoot(): Promise<boolean>;
  /** The listener's limits, and this connection's slot and deadlines in them. */
  limits: ListenerLimits;
  admitted: AdmittedConnection;
  /** Set here to close the connection in the protocol's form when the limits say so. */
  hook: ExpiryHook;
}

/** Where the limits' decision to close a connection goes (set once the connection can answer). */
export interface ExpiryHook {
  expire(reason: ExpiryReason): void;
}

const EXPIRED: Record<ExpiryReason, string> = {
  frame_timeout: "request not complete after the deadline",
  idle_timeout: "connection idle too long",
  evicted: "closed to make room for another client",
};

/** Reads once; null at EOF, "gone" on an error (or a connection the deadlines closed). */
async function readChunk(conn: Deno.UnixConn, buf: Uint8Array): Promise<number | null | "gone"> {
  try {
    return await conn.read(buf);
  } catch {
    return "gone";
  }
}

function failed(resp: "JSON_INVALID" | "INVALID_CMD" | "SUDO_REQUIRED", message: string) {
  return { kind: "failure", failure: { resp, message } } as const;
}

/** Serves one accepted connection until it is done. */
export async function serveCryptodedConnection(
  conn: Deno.UnixConn,
  o: CryptodedConnectionOptions,
): Promise<void> {
  const parser = new JsonStreamParser(o.maxRequestBytes);
  const buf = new Uint8Array(4096);
  let replies = 0;
  const send = (text: string) => writeAllText(conn, replies++ === 0 ? text : `\n${text}`);
  const watch = o.admitted;
  o.hook.expire = (reason) => {
    const reply = failed("JSON_INVALID", EXPIRED[reason]);
    logRequest(o, null, reply);
    void send(o.dialect.encode(reply, true)).catch(() => {}).finally(() => closeQuietly(conn));
  };
  try {
    for (;;) {
      const n = await readChunk(conn, buf);
      if (n === "gone") return;
      const items = n === null ? parser.end() : parser.push(buf.subarray(0, n));
      watch.received(items.length, parser.pending > 0);
      for (const item of items) {
        if (item.kind === "oversized") {
          o.limits.refuse("oversize");
          const reply = failed("JSON_INVALID", `request larger than ${o.maxRequestBytes} bytes`);
          logRequest(o, null, reply, `${item.size} bytes`);
          await send(o.dialect.encode(reply, true)).catch(() => {});
          await drainAndClose(conn);
          return;
        }
        watch.busy(1);
        try {
          await send(await answer(item, o));
        } catch {
          return;
        } finally {
          watch.busy(0);
        }
      }
      if (n === null) return;
      if (items.length > 0 && parser.pending === 0) return; // answered everything it sent
    }
  } finally {
    watch.release();
  }
}

async function answer(
  item: Exclude<ParsedItem, { kind: "oversized" }>,
  o: CryptodedConnectionOptions,
): Promise<string> {
  if (item.kind === "bad") {
    const reply = failed("JSON_INVALID", "request is not a JSON object");
    logRequest(o, null, reply, item.text.slice(0, 200));
    return o.dialect.encode(reply, true);
  }
  return await dispatch(item.text, o);
}

/** Decodes one request, runs its handler, and encodes the reply. */
async function dispatch(text: string, o: CryptodedConnectionOptions): Promise<string> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    const reply = failed("JSON_INVALID", `invalid JSON: ${(error as Error).message}`);
    logRequest(o, null, reply, text.slice(0, 200));
    return o.dialect.encode(reply, true);
  }
  const json = typeof raw === "object" && raw !== null && "json" in raw
    ? (raw as { json: unknown }).json !== false
    : o.dialect.jsonByDefault;
  const parsed = requestSchema.safeParse(raw);
  if (!parsed.success) {
    const reply = failed("JSON_INVALID", describeCryptodedIssue(parsed.error));
    logRequest(o, null, reply, text.slice(0, 200));
    return o.dialect.encode(reply, json);
  }
  const request = parsed.data;
  const reply = await run(request, o);
  logRequest(o, request, reply);
  return o.dialect.encode(reply, json);
}

async function run(request: CryptodedRequest, o: CryptodedConnectionOptions) {
  const handler = o.table.get(request.cmd);
  if (!handler) return failed("INVALID_CMD", `cmd: unknown command ${request.cmd}`);
  if (handler.privileged && !(await o.isRoot())) {
    return failed("SUDO_REQUIRED", `${handler.command} needs a root client`);
  }
  try {
    return await handler.handle(request, o.context);
  } catch (error) {
    return { kind: "failure", failure: cryptodedFailure(error, o.log) } as const;
  }
}

/** One log line per request: debug when answered OK, info when refused. */
function logRequest(
  o: CryptodedConnectionOptions,
  request: CryptodedRequest | null,
  reply: CryptodedReply,
  input?: string,
): void {
  const code = o.dialect.code(o.dialect.resp(reply));
  const fields: Record<string, unknown> = {
    dialect: o.dialect.name,
    cmd: request?.cmd ?? null,
    command: request ? o.dialect.commands.get(request.cmd) ?? "unknown" : null,
    code,
    reply: respName(code, o.dialect.name === "v1"),
  };
  if (request && request.param !== undefined) fields.param = loggedParam(request.param);
  if (input !== undefined) fields.input = input;
  if (reply.kind === "failure") {
    fields.error = reply.failure.message;
    o.log.info("request refused", fields);
  } else {
    o.log.debug("request", fields);
  }
}

/** The parameter as logged: strings cut at 200 characters, inline profile content as its size. */
function loggedParam(param: CryptodedRequest["param"]): unknown {
  if (typeof param === "string") return param.slice(0, 200);
  if (param === null || param === undefined) return param;
  return Object.fromEntries(
    Object.entries(param).map(([k, v]) =>
      k === "content" && typeof v === "string" ? [k, `<${v.length} characters>`] : [k, v]
    ),
  );
}
