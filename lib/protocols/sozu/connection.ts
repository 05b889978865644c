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
  /** Told the status of every final reply (for metrics). */
  onReply?(status: "OK" | "ERROR"): void;
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
  // Replies that become ready while a write is in progress go out together in the next write.
  let queue: Uint8Array[] = [];
  let flushing: Promise<void> | null = null;
  const flush = async (): Promise<void> => {
    while (queue.length > 0 && !broken) {
      const parts = queue;
      queue = [];
      let bytes = parts[0]!;
      if (parts.length > 1) {
        bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) {
          bytes.set(p, at);
          at += p.length;
        }
      }
      try {
        await writer.write(bytes);
      } catch {
        broken = true;
      }
    }
    queue = [];
    flushing = null;
  };
  /** Queues a reply; resolves once it has been written (or the connection broke). */
  const send = (reply: CommandResponse): Promise<void> => {
    if (broken) return Promise.resolve();
    queue.push(encoder.encode(JSON.stringify(reply) + "\0"));
    flushing ??= flush();
    return flushing;
  };
  const inFlight = new Set<Promise<void>>();

  // One timer for the whole connection, armed for the oldest request still running: a request
  // older than processingAfterMs gets one PROCESSING reply.
  const running = new Map<number, { since: number; fire: () => void }>();
  let sequence = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    if (timer !== undefined || running.size === 0) return;
    const oldest = running.values().next().value!;
    const wait = Math.max(0, oldest.since + options.processingAfterMs - performance.now());
    timer = setTimeout(sweep, wait);
  };
  const sweep = (): void => {
    timer = undefined;
    const now = performance.now();
    for (const [key, entry] of running) {
      if (now - entry.since < options.processingAfterMs) break;
      running.delete(key);
      entry.fire();
    }
    arm();
  };

  const handle = async (bytes: Uint8Array): Promise<void> => {
    let id = "";
    const key = ++sequence;
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
      running.set(key, {
        since: performance.now(),
        fire: () => void send(response(id, "PROCESSING", "in progress")),
      });
      arm();
      reply = await options.table.dispatch(request, {
        processing: (message) => {
          running.delete(key);
          void send(response(id, "PROCESSING", message));
        },
        afterReply: (fn) => after.push(fn),
      });
    } catch (error) {
      reply = errorResponse(id, error, options.log);
    } finally {
      running.delete(key);
    }
    if (reply) {
      options.onReply?.(reply.status === "OK" ? "OK" : "ERROR");
      await send(reply);
    }
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
  clearTimeout(timer);
  await writer.close().catch(() => {});
}
