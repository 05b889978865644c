/**
 * A command-socket client (what `polyagent ctl sozu` uses): NUL-framed JSON, replies matched by id,
 * PROCESSING replies passed to a callback, and a deadline on every call — sozu's own CLI could
 * wait forever; this one cannot.
 */
import { connectUnix, nulFramer } from "../../core/mod.ts";
import { type CommandResponse, MAX_FRAME } from "./schemas.ts";

/** No final reply arrived in time. */
export class SozuTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SozuTimeoutError";
  }
}

/** A request body without id and version. */
export interface RequestBody {
  type: string;
  data?: unknown;
  worker_id?: number;
}

interface Pending {
  resolve: (reply: CommandResponse) => void;
  reject: (error: Error) => void;
  onReply?: ((reply: CommandResponse) => void) | undefined;
  /** performance.now() after which the call fails. */
  deadline: number;
  /** The timeout error's message. */
  late: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
let sequence = 0;

/** One connection to a sozu command socket. */
export class SozuClient {
  #conn: Deno.UnixConn;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #pending = new Map<string, Pending>();
  #closed: Error | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;
  #queue: Uint8Array[] = [];
  #flushing: Promise<void> | null = null;

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.#writer = conn.writable.getWriter();
    void this.#read();
  }

  /** Connects, failing after `timeoutMs`. */
  static async connect(path: string, timeoutMs: number): Promise<SozuClient> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = connectUnix(path, timeoutMs);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new SozuTimeoutError(`could not connect to ${path} within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return new SozuClient(await Promise.race([connecting, timeout]));
    } catch (error) {
      connecting.then((c) => c.close(), () => {});
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  async #read(): Promise<void> {
    const framer = nulFramer(64 * MAX_FRAME);
    try {
      for await (const chunk of this.#conn.readable) {
        for (const event of framer.push(chunk)) {
          if (event.kind !== "frame") continue;
          let reply: CommandResponse;
          try {
            reply = JSON.parse(decoder.decode(event.data));
          } catch {
            continue;
          }
          const pending = this.#pending.get(reply.id);
          if (!pending) continue;
          pending.onReply?.(reply);
          if (String(reply.status).toUpperCase() === "PROCESSING") continue;
          this.#forget(reply.id);
          pending.resolve(reply);
        }
      }
      this.#fail(new Error("the server closed the connection"));
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
  }

  #fail(error: Error): void {
    this.#closed = error;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#disarm();
    for (const p of pending) p.reject(error);
  }

  #forget(id: string): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#disarm();
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  /** One timer per connection, set for the earliest deadline. */
  #arm(deadline: number): void {
    if (this.#timer !== undefined && this.#armedFor <= deadline) return;
    clearTimeout(this.#timer);
    this.#armedFor = deadline;
    this.#timer = setTimeout(() => this.#sweep(), Math.max(0, deadline - performance.now()));
  }

  #sweep(): void {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = performance.now();
    let next = Infinity;
    for (const [id, p] of [...this.#pending]) {
      if (p.deadline <= now) {
        this.#pending.delete(id);
        p.reject(new SozuTimeoutError(p.late));
      } else if (p.deadline < next) {
        next = p.deadline;
      }
    }
    if (next < Infinity) this.#arm(next);
  }

  #wait(id: string, timeoutMs: number, late: string, onReply?: (r: CommandResponse) => void) {
    return new Promise<CommandResponse>((resolve, reject) => {
      const deadline = performance.now() + timeoutMs;
      this.#pending.set(id, { resolve, reject, onReply, deadline, late });
      this.#arm(deadline);
    });
  }

  /** Queues bytes; requests written while a write is in progress go out together. */
  #write(bytes: Uint8Array): Promise<void> {
    this.#queue.push(bytes);
    this.#flushing ??= this.#flush();
    return this.#flushing;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const parts = this.#queue;
        this.#queue = [];
        let bytes = parts[0]!;
        if (parts.length > 1) {
          bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) {
            bytes.set(p, at);
            at += p.length;
          }
        }
        await this.#writer.write(bytes);
      }
    } finally {
      this.#queue = [];
      this.#flushing = null;
    }
  }

  /** Sends raw bytes (tests use it for malformed frames). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await this.#write(bytes);
  }

  /**
   * Sends one request and resolves with its final (OK or ERROR) reply; PROCESSING replies go to
   * `onReply` (which also sees the final one). Rejects with {@linkcode SozuTimeoutError}.
   */
  request(
    body: RequestBody,
    options: { timeoutMs: number; id?: string; onReply?: (reply: CommandResponse) => void },
  ): Promise<CommandResponse> {
    const id = options.id ?? `ctl-${Deno.pid}-${++sequence}`;
    return this.send({ id, version: 0, ...body }, options);
  }

  /** Sends a message exactly as given (its `id` is used to match the replies). */
  send(
    message: { id: string } & Record<string, unknown>,
    options: { timeoutMs: number; onReply?: (reply: CommandResponse) => void },
  ): Promise<CommandResponse> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = message.id;
    const type = String(message.type ?? (message.data as { type?: unknown })?.type ?? "request");
    const reply = this.#wait(
      id,
      options.timeoutMs,
      `no reply to ${type} within ${options.timeoutMs} ms`,
      options.onReply,
    );
    this.#write(encoder.encode(JSON.stringify(message) + "\0")).catch((error) => {
      const pending = this.#pending.get(id);
      this.#forget(id);
      pending?.reject(error);
    });
    return reply;
  }

  /** Waits for the final reply carrying `id` without sending anything (after {@linkcode sendRaw}). */
  expect(id: string, timeoutMs: number): Promise<CommandResponse> {
    if (this.#closed) return Promise.reject(this.#closed);
    return this.#wait(id, timeoutMs, `no reply with id "${id}" within ${timeoutMs} ms`);
  }

  /** Closes the connection. */
  close(): void {
    this.#fail(new Error("client closed"));
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** A PROXY order body. */
export function proxyOrder(type: string, data?: unknown, workerId?: number): RequestBody {
  const body: RequestBody = { type: "PROXY", data: data === undefined ? { type } : { type, data } };
  if (workerId !== undefined) body.worker_id = workerId;
  return body;
}
