/**
 * One MASQNode-UIv2 peer (a UI connected to the Daemon or to the built-in Node): text frames only,
 * a size limit (a larger frame disconnects it), decoding with the codec, the converter's own
 * answers to frames that do not decode (`errors.ts`), dispatch of every well-formed message, and
 * sending with a limit on unread data (a peer too far behind is dropped).
 */
import { errorText, type Logger } from "../../core/mod.ts";
import { decodeMessage, type UiMessage } from "./codec.ts";
import { undecodableReply } from "./errors.ts";

/** A connected UI, numbered from 0 in connection order. */
export type ClientId = number;

/** What a connection needs from its server. */
export interface MasqConnectionHost {
  log: Logger;
  /** Largest accepted text frame. */
  maxMessageBytes: number;
  /** Unsent bytes beyond which the peer is dropped. */
  maxBufferedBytes: number;
  /** True once the server is closing: a socket that opens now is closed at once. */
  closing(): boolean;
  /** The connection opened (it is now a client). */
  attach(connection: MasqConnection): void;
  /** The connection is gone (closed by the peer, dropped, or on server close). */
  detach(connection: MasqConnection): void;
  /** Every well-formed inbound message. */
  onMessage(client: ClientId, message: UiMessage): void;
  /** A message over `maxMessageBytes` arrived (counted by the listener limits). */
  onOversize?(): void;
  onConnect?(client: ClientId): void;
  onDisconnect?(client: ClientId): void;
}

/** One upgraded WebSocket. */
export class MasqConnection {
  /** Its client number. */
  readonly id: ClientId;
  #socket: WebSocket;
  #host: MasqConnectionHost;
  #attached = false;

  constructor(id: ClientId, socket: WebSocket, host: MasqConnectionHost) {
    this.id = id;
    this.#socket = socket;
    this.#host = host;
    socket.onopen = () => this.#opened();
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => {
      if (!this.#attached) return;
      this.#attached = false;
      host.detach(this);
      host.log.debug("UI disconnected", { client: id });
      host.onDisconnect?.(id);
    };
    socket.onerror = () => this.drop(1011, "error");
  }

  #opened(): void {
    const host = this.#host;
    if (host.closing()) {
      this.#socket.close(1001, "server closing");
      return;
    }
    this.#attached = true;
    host.attach(this);
    host.log.debug("UI connected", { client: this.id });
    host.onConnect?.(this.id);
  }

  #receive(data: unknown): void {
    const { log, maxMessageBytes } = this.#host;
    if (!this.#attached) return;
    if (typeof data !== "string") {
      log.debug("ignoring non-text frame from UI", { client: this.id });
      return;
    }
    if (data.length > maxMessageBytes) {
      log.warn("UI sent an oversized message; disconnecting it", {
        client: this.id,
        bytes: data.length,
      });
      this.#host.onOversize?.();
      this.drop(1009, "message too big");
      return;
    }
    this.#onText(data);
  }

  #onText(text: string): void {
    const log = this.#host.log;
    const decoded = decodeMessage(text);
    if (decoded.kind !== "ok") {
      if (decoded.kind === "critical") {
        log.warn("unparseable message from UI", { client: this.id, error: decoded.message });
      } else {
        log.warn("bad message from UI", {
          client: this.id,
          opcode: decoded.opcode,
          error: decoded.message,
        });
      }
      this.send(undecodableReply(decoded, text));
      return;
    }
    try {
      this.#host.onMessage(this.id, decoded.message);
    } catch (error) {
      log.error("message handler threw", { client: this.id, error: errorText(error) });
    }
  }

  /** Sends a text frame; false when it was not sent (closed, or dropped for being too slow). */
  send(text: string): boolean {
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) return false;
    if (socket.bufferedAmount > this.#host.maxBufferedBytes) {
      this.#host.log.warn("UI is not reading its messages; disconnecting it", { client: this.id });
      this.drop(1008, "too slow");
      return false;
    }
    try {
      socket.send(text);
      return true;
    } catch {
      this.drop(1011, "send failed");
      return false;
    }
  }

  /** Disconnects the peer with a close code and tells the host. */
  drop(code: number, reason: string): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.#host.detach(this);
    this.#closeSocket(code, reason);
    this.#host.onDisconnect?.(this.id);
  }

  /** Closes the socket because the server closes (the host is not told). */
  goAway(): void {
    this.#attached = false;
    this.#closeSocket(1001, "going away");
  }

  #closeSocket(code: number, reason: string): void {
    try {
      this.#socket.close(code, reason);
    } catch {
      // already closing
    }
  }
}
