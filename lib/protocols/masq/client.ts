/**
 * A MASQNode-UIv2 client that behaves like the real `masq` one: conversations by contextId, every
 * message without a contextId treated as a broadcast, and a `redirect` for a waiting conversation
 * followed by reconnecting to the Node's port and resending it there. Error codes are parsed
 * exactly (bigint).
 */
import { NODE_UI_PROTOCOL } from "./codes.ts";
import { decodeMessage, stringifyExact, type UiMessage } from "./codec.ts";

/** How a conversation ended. */
export type Outcome =
  | { kind: "payload"; opcode: string; payload: Record<string, unknown> }
  | { kind: "error"; opcode: string; code: bigint; message: string }
  /** The server closed the connection before answering (success for `shutdown`). */
  | { kind: "dropped" };

/** Options for {@linkcode MasqClient.connect}. */
export interface ClientOptions {
  /** @default {"127.0.0.1"} */
  hostname?: string;
  /** Connect timeout. @default {5000} */
  timeoutMs?: number;
  /** Every message without a contextId (except a redirect being followed). */
  onBroadcast?(message: UiMessage): void;
}

interface Pending {
  contextId: bigint;
  opcode: string;
  payloadText: string;
  resolve(outcome: Outcome): void;
  reject(error: Error): void;
}

function openSocket(url: string, timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [NODE_UI_PROTOCOL]);
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`Timed out connecting to ${url}`));
    }, timeoutMs);
    ws.onopen = () => {
      clearTimeout(timer);
      resolve(ws);
    };
    ws.onerror = (event) => {
      clearTimeout(timer);
      reject(new Error(`Cannot connect to ${url}: ${(event as ErrorEvent).message ?? "refused"}`));
    };
  });
}

/** A connection to the Daemon that follows redirects to the Node. */
export class MasqClient {
  #hostname: string;
  #timeoutMs: number;
  #onBroadcast: (message: UiMessage) => void;
  #socket: WebSocket | null = null;
  #nextContext = 1n;
  #pending = new Map<bigint, Pending>();
  /** The port of the server currently talked to (the Daemon's, then the Node's after a redirect). */
  port: number;

  private constructor(port: number, options: ClientOptions) {
    this.port = port;
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#onBroadcast = options.onBroadcast ?? (() => {});
  }

  /** Connects to the Daemon (or a Node) on `port`. */
  static async connect(port: number, options: ClientOptions = {}): Promise<MasqClient> {
    const client = new MasqClient(port, options);
    await client.#attach(port);
    return client;
  }

  async #attach(port: number): Promise<void> {
    const ws = await openSocket(`ws://${this.#hostname}:${port}`, this.#timeoutMs);
    const old = this.#socket;
    this.#socket = ws;
    this.port = port;
    if (old) {
      old.onclose = null;
      old.close();
    }
    ws.onmessage = (event) => {
      if (typeof event.data === "string") this.#receive(event.data);
    };
    ws.onclose = () => {
      if (this.#socket !== ws) return;
      this.#socket = null;
      for (const p of this.#pending.values()) p.resolve({ kind: "dropped" });
      this.#pending.clear();
    };
  }

  #receive(text: string): void {
    const decoded = decodeMessage(text);
    if (decoded.kind !== "ok") return;
    const message = decoded.message;
    if (message.contextId === null) {
      if (message.opcode === "redirect" && "payload" in message.body) {
        const p = message.body.payload;
        const ctx = typeof p.contextId === "bigint"
          ? p.contextId
          : typeof p.contextId === "number"
          ? BigInt(p.contextId)
          : null;
        const pending = ctx === null ? undefined : this.#pending.get(ctx);
        if (pending && typeof p.port === "number" && typeof p.payload === "string") {
          this.#follow(pending, p.port, p.payload);
          return;
        }
      }
      this.#onBroadcast(message);
      return;
    }
    const pending = this.#pending.get(message.contextId);
    if (!pending) return;
    this.#pending.delete(message.contextId);
    if ("payload" in message.body) {
      pending.resolve({ kind: "payload", opcode: message.opcode, payload: message.body.payload });
    } else {
      pending.resolve({
        kind: "error",
        opcode: message.opcode,
        code: message.body.error.code,
        message: message.body.error.message,
      });
    }
  }

  #follow(pending: Pending, port: number, payloadText: string): void {
    this.#attach(port).then(() => {
      this.#sendRaw(pending.opcode, pending.contextId, payloadText);
    }, (error) => {
      this.#pending.delete(pending.contextId);
      pending.reject(new Error(`Redirect to port ${port} failed: ${error.message}`));
    });
  }

  #sendRaw(opcode: string, contextId: bigint, payloadText: string): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) throw new Error("Not connected");
    socket.send(
      `{"opcode":${JSON.stringify(opcode)},"contextId":${contextId},"payload":${payloadText}}`,
    );
  }

  /** Sends a one-way message (no contextId). */
  sendOneWay(opcode: string, payload: Record<string, unknown>): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) throw new Error("Not connected");
    socket.send(`{"opcode":${JSON.stringify(opcode)},"payload":${stringifyExact(payload)}}`);
  }

  /** Sends a request and waits for its answer, following a redirect; rejects on timeout. */
  transact(
    opcode: string,
    payload: Record<string, unknown>,
    timeoutMs = this.#timeoutMs,
  ): Promise<Outcome> {
    const contextId = this.#nextContext++;
    const payloadText = stringifyExact(payload);
    return new Promise<Outcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(contextId);
        reject(new Error(`No answer to ${opcode} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(contextId, {
        contextId,
        opcode,
        payloadText,
        resolve: (o) => {
          clearTimeout(timer);
          resolve(o);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      try {
        this.#sendRaw(opcode, contextId, payloadText);
      } catch (error) {
        this.#pending.delete(contextId);
        clearTimeout(timer);
        reject(error);
      }
    });
  }

  /** Closes the connection. */
  close(): void {
    const socket = this.#socket;
    this.#socket = null;
    for (const p of this.#pending.values()) p.resolve({ kind: "dropped" });
    this.#pending.clear();
    socket?.close();
  }
}
