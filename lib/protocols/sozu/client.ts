/**
 * A command-socket client (what `polyagent ctl sozu` uses): NUL-framed JSON, replies matched by id,
 * PROCESSING replies passed to a callback, and a deadline on every call — sozu's own CLI could
 * wait forever; this one cannot.
 */
import { nulFramer } from "../../core/mod.ts";
import type { CommandResponse } from "./reply.ts";
import { MAX_FRAME } from "./wire.ts";

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

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
    this.#writer = conn.writable.getWriter();
    void this.#read();
  }

  /** Connects, failing after `timeoutMs`. */
  static async connect(path: string, timeoutMs: number): Promise<SozuClient> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const connecting = Deno.connect({ transport: "unix", path });
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
          this.#pending.delete(reply.id);
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
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
  }

  /** Sends raw bytes (tests use it for malformed frames). */
  async sendRaw(bytes: Uint8Array): Promise<void> {
    await this.#writer.write(bytes);
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
    return new Promise<CommandResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SozuTimeoutError(`no reply to ${type} within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      this.#pending.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
        onReply: options.onReply,
      });
      this.#writer.write(encoder.encode(JSON.stringify(message) + "\0")).catch((error) => {
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Waits for the final reply carrying `id` without sending anything (after {@linkcode sendRaw}). */
  expect(id: string, timeoutMs: number): Promise<CommandResponse> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<CommandResponse>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SozuTimeoutError(`no reply with id "${id}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
    });
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
