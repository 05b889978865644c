/**
 * A table from opcode to handler that refuses duplicate registrations, shared by the Daemon and
 * the built-in Node.
 */
import type { ClientId } from "./ui_server.ts";
import type { UiMessage } from "./envelope.ts";

/** What a handler gets for one inbound message. */
export interface Request {
  client: ClientId;
  opcode: string;
  contextId: bigint | null;
  payload: Record<string, unknown>;
  message: UiMessage;
}

/** Handles one opcode; throws ProtocolError for a wire error. */
export type Handler = (request: Request) => Promise<void> | void;

/** Opcode → handler. */
export class HandlerTable {
  #handlers = new Map<string, Handler>();

  /** Adds a handler; throws when the opcode already has one. */
  register(opcode: string, handler: Handler): this {
    if (this.#handlers.has(opcode)) {
      throw new Error(`Duplicate handler registration for opcode "${opcode}"`);
    }
    this.#handlers.set(opcode, handler);
    return this;
  }

  /** The handler for an opcode, or undefined. */
  get(opcode: string): Handler | undefined {
    return this.#handlers.get(opcode);
  }

  /** Registered opcodes. */
  opcodes(): string[] {
    return [...this.#handlers.keys()];
  }
}
