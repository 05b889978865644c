/**
 * One client of the command socket: NUL-framed JSON in, NUL-framed replies out. Requests run
 * concurrently (replies are matched by id), a PROCESSING reply goes out when one takes long, and
 * a bad frame costs only an ERROR reply — the connection stays open.
 */
import { type Logger, nulFramer } from "../../core/mod.ts";
import { errorResponse, SozuError } from "./errors.ts";
import type { HandlerTable } from "./handlers.ts";
import { type CommandResponse, response } from "./reply.ts";
import { decodeRequest, salvageId } from "./wire.ts";

/** Options for {@linkcode serveConnection}. */
export interface ConnectionOptions {
  table: HandlerTable;
  log: Logger;
  /** Largest frame, bytes. */
  maxFrame: number;
  /** A request still running after this long gets a PROCESSING reply. */
  processingAfterMs: number;
  /** Requests in flight per connection before reading pauses. */
  maxInFlight: number;
  /** A refusal for every new request (the proxy is stopped), or null. */
  refusal(): string | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Serves one connection until the client closes it or `signal` aborts. */
export async function serveConnection(
  conn: Deno.Conn,
  options: ConnectionOptions,
): Promise<void> {
  const framer = nulFramer(options.maxFrame);
  const writer = conn.writable.getWriter();
  let broken = false;
  const send = (reply: CommandResponse): Promise<void> => {
    if (broken) return Promise.resolve();
    return writer.write(encoder.encode(JSON.stringify(reply) + "\0")).catch(() => {
      broken = true;
    });
  };
  const inFlight = new Set<Promise<void>>();

  const handle = async (bytes: Uint8Array): Promise<void> => {
    let id = "";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const after: (() => void)[] = [];
    let reply: CommandResponse | null;
    try {
      let text: string;
      try {
        text = decoder.decode(bytes);
      } catch {
        throw new SozuError("invalid message: not valid UTF-8");
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        id = salvageId(text);
        throw new SozuError(`invalid JSON: ${(error as Error).message}`);
      }
      const rawId = (value as { id?: unknown } | null)?.id;
      if (typeof rawId === "string") id = rawId;
      const request = decodeRequest(value, options.table);
      const refusal = options.refusal();
      if (refusal !== null) throw new SozuError(refusal);
      let answered = false;
      timer = setTimeout(() => {
        if (!answered) void send(response(id, "PROCESSING", "in progress"));
      }, options.processingAfterMs);
      reply = await options.table.dispatch(request, {
        processing: (message) => {
          answered = true;
          void send(response(id, "PROCESSING", message));
        },
        afterReply: (fn) => after.push(fn),
      });
    } catch (error) {
      reply = errorResponse(id, error, options.log);
    } finally {
      clearTimeout(timer);
    }
    if (reply) await send(reply);
    for (const fn of after) fn();
  };

  try {
    for await (const chunk of conn.readable) {
      for (const event of framer.push(chunk)) {
        if (event.kind === "oversized") {
          void send(
            response(
              "",
              "ERROR",
              `message too large: ${event.size} bytes (the limit is ${options.maxFrame})`,
            ),
          );
          continue;
        }
        const job = handle(event.data);
        inFlight.add(job);
        void job.finally(() => inFlight.delete(job));
        while (inFlight.size >= options.maxInFlight) await Promise.race(inFlight);
      }
    }
  } catch (error) {
    if (
      !(error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset)
    ) {
      options.log.debug("command connection ended", { error });
    }
  }
  await Promise.allSettled(inFlight);
  await writer.close().catch(() => {});
}
