/**
 * One client's WebSocket session: decodes each text frame, runs its handler concurrently with the
 * client's other requests, and sends progress frames and one final frame per request, each with
 * `type` and `refID`. Any bad frame is answered with the protocol's error; the session stays open.
 */
import type { Logger } from "../../core/mod.ts";
import { ErrorCode, errorFields, IntervirtError } from "./errors.ts";
import type { HandlerTable } from "./handlers.ts";
import type { ContainerManager } from "./manager.ts";
import { envelopeSchema } from "./schemas.ts";

/** Sends one JSON frame (dropped when the socket is gone). */
export type SendFrame = (frame: Record<string, unknown>) => void;

/** Options for {@linkcode ClientSession}. */
export interface SessionOptions {
  table: HandlerTable;
  manager: ContainerManager;
  log: Logger;
  send: SendFrame;
  maxMessageBytes: number;
  maxInFlight: number;
  /** Closes the underlying socket. */
  closeSocket?: () => void;
}

/** One connected client. */
export class ClientSession {
  readonly #o: SessionOptions;
  #inFlight = 0;
  #closed = false;

  constructor(options: SessionOptions) {
    this.#o = options;
  }

  /** Marks the session closed: later frames are dropped. */
  close(): void {
    this.#closed = true;
  }

  /** Closes the socket (agent shutdown). */
  terminate(): void {
    this.#closed = true;
    try {
      this.#o.closeSocket?.();
    } catch {
      // already closed
    }
  }

  /** Requests being handled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  #send(frame: Record<string, unknown>): void {
    if (!this.#closed) this.#o.send(frame);
  }

  #error(refID: string | null, error: unknown): void {
    const fields = errorFields(error);
    if (fields.code === ErrorCode.undefined) {
      this.#o.log.error("request failed", { refID, error });
    }
    this.#send({ type: "General", refID, code: fields.code, error: fields.error });
  }

  /** Handles one incoming frame; resolves when its final reply has been sent. */
  async receive(data: unknown): Promise<void> {
    if (typeof data !== "string") {
      this.#error(null, new IntervirtError(ErrorCode.badInput, "Expected a JSON text frame"));
      return;
    }
    if (data.length > this.#o.maxMessageBytes) {
      this.#error(
        null,
        new IntervirtError(
          ErrorCode.badInput,
          `Message too large: ${data.length} bytes (at most ${this.#o.maxMessageBytes})`,
        ),
      );
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(data);
    } catch (error) {
      this.#error(
        null,
        new IntervirtError(ErrorCode.badInput, `Invalid JSON: ${(error as Error).message}`),
      );
      return;
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      this.#error(null, new IntervirtError(ErrorCode.badInput, "Expected a JSON object"));
      return;
    }
    const raw = body as Record<string, unknown>;
    const refID = typeof raw.uuid === "string" ? raw.uuid : null;
    const envelope = envelopeSchema.safeParse(raw);
    if (!envelope.success) {
      const issue = envelope.error.issues[0];
      const field = issue?.path.map(String).join(".") ?? "type";
      this.#error(
        refID,
        new IntervirtError(
          ErrorCode.badInput,
          raw[field] === undefined
            ? `Missing field "${field}"`
            : `Invalid field "${field}": ${issue?.message}`,
        ),
      );
      return;
    }
    const handler = this.#o.table.get(envelope.data.type);
    if (!handler) {
      this.#error(
        refID,
        new IntervirtError(
          ErrorCode.unsupported,
          `Unsupported request type "${envelope.data.type}"`,
        ),
      );
      return;
    }
    if (this.#inFlight >= this.#o.maxInFlight) {
      this.#error(
        refID,
        new IntervirtError(
          ErrorCode.undefined,
          `Too many requests in flight (at most ${this.#o.maxInFlight})`,
        ),
      );
      return;
    }
    this.#inFlight++;
    const after: (() => Promise<void>)[] = [];
    try {
      const final = await handler(raw, {
        manager: this.#o.manager,
        progress: (fraction, output) => {
          this.#send({
            type: "General",
            refID,
            progress: Math.max(0, Math.min(1, Math.round(fraction * 1000) / 1000)),
            output,
            status: -1,
          });
        },
        after: (fn) => after.push(fn),
      });
      this.#send({ ...final, refID });
    } catch (error) {
      this.#error(refID, error);
    } finally {
      this.#inFlight--;
    }
    for (const fn of after) {
      await fn().catch((error) => this.#o.log.error("host command failed", { error }));
    }
  }
}
