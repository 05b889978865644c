/**
 * One client's WebSocket connection: checks each text frame (size cap, JSON object, envelope),
 * runs its handler concurrently with the client's other requests, and sends progress frames and
 * one final frame per request, each with `type` and `refID`. Any bad frame is answered with the
 * protocol's error (`errors.ts`); the connection stays open.
 */
import { BusyError, InvalidError, type Logger } from "../../core/mod.ts";
import type { ContainerManager } from "./containers/mod.ts";
import { errorFields, IntervirtErrorCode, UNSUPPORTED } from "./errors.ts";
import type { IntervirtHandler, IntervirtHandlerTable } from "./handlers.ts";
import { describeIssue, intervirtEnvelopeSchema } from "./schemas.ts";

/** Sends one JSON frame (dropped when the socket is gone). */
export type IntervirtSendFrame = (frame: Record<string, unknown>) => void;

/** Options for {@linkcode IntervirtConnection}. */
export interface IntervirtConnectionOptions {
  table: IntervirtHandlerTable;
  manager: ContainerManager;
  log: Logger;
  send: IntervirtSendFrame;
  maxMessageBytes: number;
  maxInFlight: number;
  /** Closes the underlying socket. */
  closeSocket?: () => void;
  /** A message refused by the size or in-flight cap (for the listener limits' counters). */
  onRefusal?: (reason: "oversize" | "in_flight") => void;
}

/** A request ready to run: its raw body, its refID and its handler. */
interface DecodedRequest {
  body: Record<string, unknown>;
  refID: string | null;
  handler: IntervirtHandler;
}

/** One connected client. */
export class IntervirtConnection {
  readonly #o: IntervirtConnectionOptions;
  #inFlight = 0;
  #closed = false;

  constructor(options: IntervirtConnectionOptions) {
    this.#o = options;
  }

  /** Marks the connection closed: later frames are dropped. */
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
    if (fields.code === IntervirtErrorCode.undefined) {
      this.#o.log.error("request failed", { refID, error });
    }
    this.#send({ type: "General", refID, code: fields.code, error: fields.error });
  }

  /** Handles one incoming frame; resolves when its final reply has been sent. */
  async receive(data: unknown): Promise<void> {
    let body: Record<string, unknown>;
    try {
      body = this.#parse(data);
    } catch (error) {
      this.#error(null, error);
      return;
    }
    const refID = typeof body.uuid === "string" ? body.uuid : null;
    let handler: IntervirtHandler;
    try {
      handler = this.#handlerFor(body);
    } catch (error) {
      this.#error(refID, error);
      return;
    }
    await this.#run({ body, refID, handler });
  }

  /** The frame as a JSON object (within the size cap). */
  #parse(data: unknown): Record<string, unknown> {
    if (typeof data !== "string") throw new InvalidError("Expected a JSON text frame");
    if (data.length > this.#o.maxMessageBytes) {
      this.#o.onRefusal?.("oversize");
      throw new InvalidError(
        `Message too large: ${data.length} bytes (at most ${this.#o.maxMessageBytes})`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(data);
    } catch (error) {
      throw new InvalidError(`Invalid JSON: ${(error as Error).message}`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new InvalidError("Expected a JSON object");
    }
    return body as Record<string, unknown>;
  }

  /** The handler of a request: its envelope checked, its type known, room for one more. */
  #handlerFor(body: Record<string, unknown>): IntervirtHandler {
    const envelope = intervirtEnvelopeSchema.safeParse(body);
    if (!envelope.success) throw new InvalidError(describeIssue(envelope.error, body));
    const handler = this.#o.table.get(envelope.data.type);
    if (!handler) {
      throw new InvalidError(`Unsupported request type "${envelope.data.type}"`, {
        reason: UNSUPPORTED,
      });
    }
    if (this.#inFlight >= this.#o.maxInFlight) {
      this.#o.onRefusal?.("in_flight");
      throw new BusyError(`Too many requests in flight (at most ${this.#o.maxInFlight})`);
    }
    return handler;
  }

  /** Runs one request: progress frames, the final frame, then its `after` steps. */
  async #run({ body, refID, handler }: DecodedRequest): Promise<void> {
    this.#inFlight++;
    const after: (() => Promise<void>)[] = [];
    try {
      const final = await handler(body, {
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
