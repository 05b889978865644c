/**
 * One client of the command socket: NUL-framed JSON in, NUL-framed replies out. Requests run
 * concurrently (replies are matched by id), a PROCESSING reply goes out when one takes long,
 * replies that become ready during a write go out together in the next one, and a bad frame
 * costs only an ERROR reply — the connection stays open.
 */
import {
  type AdmittedConnection,
  concatBytes,
  type ExpiryReason,
  InvalidError,
  type ListenerLimits,
  type Logger,
  nulFramer,
  UnavailableError,
} from "../../core/mod.ts";
import { errorResponse } from "./errors.ts";
import { dispatchSozuRequest, type SozuHandlers } from "./handlers.ts";
import {
  type CommandResponse,
  decodeRequest,
  response,
  salvageId,
  type SozuRequest,
} from "./schemas.ts";

/** Options for {@linkcode serveSozuConnection}. */
export interface SozuConnectionOptions {
  handlers: SozuHandlers;
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
  /** The listener's limits; none in tests that drive a connection alone. */
  limits?: ListenerLimits;
}

/** This connection's slot in the listener's limits, and where its expiry goes. */
export interface SozuAdmission {
  admitted: AdmittedConnection;
  /** Set by the connection: closes it with an ERROR reply saying why. */
  expire: (reason: ExpiryReason) => void;
}

const NO_WATCH: AdmittedConnection = {
  received() {},
  touch() {},
  busy() {},
  longLived() {},
  release() {},
};

const EXPIRED: Record<ExpiryReason, string> = {
  frame_timeout: "message not complete after the deadline: closing the connection",
  idle_timeout: "connection idle too long: closing it",
  evicted: "closing this connection to make room for another client",
};

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Writes replies; those queued while a write is in progress go out together in the next. The
 * connection's stream writer is made at the first reply: a client that never asks (an idle one,
 * one evicted at a cap) costs no stream, and accepting a crowd is cheaper.
 */
class ReplyWriter {
  #conn: Deno.Conn;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #queue: Uint8Array[] = [];
  #flushing: Promise<void> | null = null;
  #broken = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Queues a reply; resolves once it has been written (or the connection broke). */
  send(reply: CommandResponse): Promise<void> {
    if (this.#broken) return Promise.resolve();
    this.#queue.push(encoder.encode(JSON.stringify(reply) + "\0"));
    this.#flushing ??= this.#flush();
    return this.#flushing;
  }

  /** Closes the write side. */
  async close(): Promise<void> {
    if (this.#writer) await this.#writer.close().catch(() => {});
    else await this.#conn.closeWrite().catch(() => {});
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0 && !this.#broken) {
      const parts = this.#queue;
      this.#queue = [];
      try {
        this.#writer ??= this.#conn.writable.getWriter();
        await this.#writer.write(concatBytes(parts));
      } catch {
        this.#broken = true;
      }
    }
    this.#queue = [];
    this.#flushing = null;
  }
}

/**
 * One timer for the whole connection, armed for the oldest request still running: a request
 * older than `afterMs` gets its `fire` called once.
 */
class ProcessingClock {
  #running = new Map<number, { since: number; fire: () => void }>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #afterMs: number;

  constructor(afterMs: number) {
    this.#afterMs = afterMs;
  }

  /** Starts watching request `key`. */
  watch(key: number, fire: () => void): void {
    this.#running.set(key, { since: performance.now(), fire });
    this.#arm();
  }

  /** Stops watching request `key` (it replied, or sent its own PROCESSING). */
  forget(key: number): void {
    this.#running.delete(key);
  }

  /** Stops the timer. */
  stop(): void {
    clearTimeout(this.#timer);
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#running.size === 0) return;
    const oldest = this.#running.values().next().value!;
    const wait = Math.max(0, oldest.since + this.#afterMs - performance.now());
    this.#timer = setTimeout(() => this.#sweep(), wait);
  }

  #sweep(): void {
    this.#timer = undefined;
    const now = performance.now();
    for (const [key, entry] of this.#running) {
      if (now - entry.since < this.#afterMs) break;
      this.#running.delete(key);
      entry.fire();
    }
    this.#arm();
  }
}

/** A frame decoded: its id (as far as it could be read) and the request or why there is none. */
type DecodedFrame = { id: string; request: SozuRequest } | { id: string; error: unknown };

function decodeFrame(bytes: Uint8Array): DecodedFrame {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return { id: "", error: new InvalidError("invalid message: not valid UTF-8") };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return {
      id: salvageId(text),
      error: new InvalidError(`invalid JSON: ${(error as Error).message}`),
    };
  }
  const rawId = (value as { id?: unknown } | null)?.id;
  const id = typeof rawId === "string" ? rawId : "";
  try {
    return { id, request: decodeRequest(value) };
  } catch (error) {
    return { id, error };
  }
}

/** One connection: reads frames, runs their requests concurrently, writes the replies. */
class SozuConnection {
  #conn: Deno.Conn;
  #options: SozuConnectionOptions;
  #replies: ReplyWriter;
  #clock: ProcessingClock;
  #inFlight = new Set<Promise<void>>();
  #sequence = 0;
  #onClose: (() => void)[] = [];
  #watch: AdmittedConnection;

  constructor(conn: Deno.Conn, options: SozuConnectionOptions, admission?: SozuAdmission) {
    this.#conn = conn;
    this.#options = options;
    this.#watch = admission?.admitted ?? NO_WATCH;
    if (admission) admission.expire = (reason) => this.#expire(reason);
    this.#replies = new ReplyWriter(conn);
    this.#clock = new ProcessingClock(options.processingAfterMs);
  }

  /** Reads until the client closes; then waits for the requests in flight. */
  async serve(): Promise<void> {
    const framer = nulFramer(this.#options.maxFrame);
    const limits = this.#options.limits;
    // a small read buffer of our own: `conn.readable` would hold 64 KiB per idle connection
    const buf = new Uint8Array(4096);
    try {
      for (let n = await this.#conn.read(buf); n !== null; n = await this.#conn.read(buf)) {
        const events = framer.push(buf.subarray(0, n));
        this.#watch.received(events.length, framer.buffered > 0);
        for (const event of events) {
          if (event.kind === "oversized") {
            limits?.refuse("oversize");
            const limit = this.#options.maxFrame;
            const message = `message too large: ${event.size} bytes (the limit is ${limit})`;
            void this.#replies.send(response("", "ERROR", message));
            continue;
          }
          await this.#start(this.#handle(event.data));
        }
      }
    } catch (error) {
      if (
        !(error instanceof Deno.errors.BadResource ||
          error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.Interrupted)
      ) {
        this.#options.log.debug("command connection ended", { error });
      }
    }
    for (const fn of this.#onClose.splice(0)) fn();
    this.#watch.release();
    await Promise.allSettled(this.#inFlight);
    this.#clock.stop();
    await this.#replies.close();
  }

  /** The deadlines closed the connection: an ERROR reply saying why, then close. */
  #expire(reason: ExpiryReason): void {
    void this.#replies.send(response("", "ERROR", EXPIRED[reason])).finally(() => {
      try {
        this.#conn.close();
      } catch {
        // already closed
      }
    });
  }

  /** Tracks a running request; waits while too many are in flight. */
  async #start(job: Promise<void>): Promise<void> {
    this.#inFlight.add(job);
    this.#watch.busy(this.#inFlight.size);
    void job.finally(() => {
      this.#inFlight.delete(job);
      this.#watch.busy(this.#inFlight.size);
    });
    while (this.#inFlight.size >= this.#options.maxInFlight) await Promise.race(this.#inFlight);
  }

  async #handle(bytes: Uint8Array): Promise<void> {
    const frame = decodeFrame(bytes);
    const after: (() => void)[] = [];
    let reply: CommandResponse | null;
    try {
      if ("error" in frame) throw frame.error;
      reply = await this.#run(frame.id, frame.request, after);
    } catch (error) {
      reply = errorResponse(frame.id, error, this.#options.log);
    }
    if (reply) {
      this.#options.onReply?.(reply.status === "OK" ? "OK" : "ERROR");
      await this.#replies.send(reply);
    }
    for (const fn of after) fn();
  }

  /** Dispatches a request, with a PROCESSING reply when it runs long. */
  async #run(
    id: string,
    request: SozuRequest,
    after: (() => void)[],
  ): Promise<CommandResponse | null> {
    const refusal = this.#options.refusal();
    if (refusal !== null) throw new UnavailableError(refusal);
    const key = ++this.#sequence;
    this.#clock.watch(
      key,
      () => void this.#replies.send(response(id, "PROCESSING", "in progress")),
    );
    try {
      return await dispatchSozuRequest(this.#options.handlers, request, {
        processing: (message) => {
          this.#clock.forget(key);
          void this.#replies.send(response(id, "PROCESSING", message));
        },
        afterReply: (fn) => after.push(fn),
        stream: {
          send: (reply) => this.#replies.send(reply),
          onClose: (fn) => this.#onClose.push(fn),
          keepOpen: () => this.#watch.longLived(),
        },
      });
    } finally {
      this.#clock.forget(key);
    }
  }
}

/** Serves one connection until the client closes it. */
export function serveSozuConnection(
  conn: Deno.Conn,
  options: SozuConnectionOptions,
  admission?: SozuAdmission,
): Promise<void> {
  return new SozuConnection(conn, options, admission).serve();
}
