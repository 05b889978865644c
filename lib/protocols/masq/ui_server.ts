/**
 * The MASQNode-UIv2 WebSocket transport, shared by the Daemon and the built-in Node: loopback
 * only, refuses an upgrade without the `MASQNode-UIv2` subprotocol (400) or with a browser
 * `Origin` outside the allow-list (403), numbers clients from 0, answers bad frames with the
 * converter's own errors, and routes replies to one client, all clients, or all but one.
 */
import { errorText, type Logger } from "../../core/mod.ts";
import { ErrorCode, NODE_UI_PROTOCOL } from "./codes.ts";
import { decodeMessage, errorMessage, oneWay, type UiMessage } from "./envelope.ts";

/** A connected UI, numbered from 0 in connection order. */
export type ClientId = number;

/** Where an outbound message goes. */
export type Target = { client: ClientId } | { all: true } | { allExcept: ClientId };

/** Options for {@linkcode UiServer.listen}. */
export interface UiServerOptions {
  /** @default {"127.0.0.1"} */
  hostname?: string;
  /** 0 picks a free port. */
  port: number;
  /** Browser origins allowed to connect; requests without `Origin` are always allowed. */
  allowedOrigins: readonly string[];
  /** Largest accepted text frame; a larger one disconnects the client. @default {1048576} */
  maxMessageBytes?: number;
  /** A client whose unsent data exceeds this is dropped. @default {8388608} */
  maxBufferedBytes?: number;
  log: Logger;
  /** Every well-formed inbound message. */
  onMessage(client: ClientId, message: UiMessage): void;
  onConnect?(client: ClientId): void;
  onDisconnect?(client: ClientId): void;
}

/** The UI port is already taken. */
export class PortBusyError extends Error {
  constructor(hostname: string, port: number, options?: ErrorOptions) {
    super(
      `Cannot listen on ${hostname}:${port}: a process already seems to be listening on that port ` +
        `(is a MASQ Daemon already running?)`,
      options,
    );
    this.name = "PortBusyError";
  }
}

/** Splits a `Sec-WebSocket-Protocol` header into its names. */
export function offeredProtocols(header: string | null): string[] {
  if (!header) return [];
  return header.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
}

/** A listening transport. */
export class UiServer {
  #o: UiServerOptions;
  #hostname: string;
  #maxMessage: number;
  #maxBuffered: number;
  #clients = new Map<ClientId, WebSocket>();
  #nextId = 0;
  #closing = false;
  #server: Deno.HttpServer | null = null;
  #port = 0;

  private constructor(options: UiServerOptions) {
    this.#o = options;
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#maxMessage = options.maxMessageBytes ?? 1 << 20;
    this.#maxBuffered = options.maxBufferedBytes ?? 8 << 20;
  }

  /** Starts listening; rejects with {@linkcode PortBusyError} when the port is taken. */
  static async listen(options: UiServerOptions): Promise<UiServer> {
    const server = new UiServer(options);
    await server.#listen();
    return server;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#port;
  }

  /** Connected client ids. */
  clients(): ClientId[] {
    return [...this.#clients.keys()];
  }

  async #listen(): Promise<void> {
    const ready = Promise.withResolvers<Deno.NetAddr>();
    try {
      this.#server = Deno.serve({
        hostname: this.#hostname,
        port: this.#o.port,
        onListen: (addr) => ready.resolve(addr as Deno.NetAddr),
        onError: (error) => {
          this.#o.log.error("UI request failed", { error: errorText(error) });
          return new Response("internal error\n", { status: 500 });
        },
      }, (request) => this.#upgrade(request));
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) {
        throw new PortBusyError(this.#hostname, this.#o.port, { cause: error });
      }
      throw error;
    }
    this.#port = (await ready.promise).port;
  }

  #upgrade(request: Request): Response {
    const log = this.#o.log;
    if ((request.headers.get("upgrade") ?? "").toLowerCase() !== "websocket") {
      return new Response(`This is a ${NODE_UI_PROTOCOL} WebSocket endpoint\n`, { status: 400 });
    }
    const offered = offeredProtocols(request.headers.get("sec-websocket-protocol"));
    if (!offered.includes(NODE_UI_PROTOCOL)) {
      log.warn(`UI attempted connection without protocol ${NODE_UI_PROTOCOL}`, {
        offered: offered.join(", "),
      });
      return new Response(`Subprotocol ${NODE_UI_PROTOCOL} is required\n`, { status: 400 });
    }
    const origin = request.headers.get("origin");
    if (origin !== null && !this.#o.allowedOrigins.includes(origin)) {
      log.warn("UI connection refused: origin not allowed", { origin });
      return new Response("Origin not allowed\n", { status: 403 });
    }
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = Deno.upgradeWebSocket(request, { protocol: NODE_UI_PROTOCOL });
    } catch (error) {
      return new Response(`Bad WebSocket upgrade: ${errorText(error)}\n`, { status: 400 });
    }
    const { socket, response } = upgraded;
    const id = this.#nextId++;
    socket.onopen = () => {
      if (this.#closing) {
        socket.close(1001, "server closing");
        return;
      }
      this.#clients.set(id, socket);
      log.debug("UI connected", { client: id });
      this.#o.onConnect?.(id);
    };
    socket.onmessage = (event) => {
      if (!this.#clients.has(id)) return;
      if (typeof event.data !== "string") {
        log.debug("ignoring non-text frame from UI", { client: id });
        return;
      }
      if (event.data.length > this.#maxMessage) {
        log.warn("UI sent an oversized message; disconnecting it", {
          client: id,
          bytes: event.data.length,
        });
        this.#drop(id, 1009, "message too big");
        return;
      }
      this.#onText(id, event.data);
    };
    socket.onclose = () => {
      if (this.#clients.delete(id)) {
        log.debug("UI disconnected", { client: id });
        this.#o.onDisconnect?.(id);
      }
    };
    socket.onerror = () => this.#drop(id, 1011, "error");
    return response;
  }

  #onText(id: ClientId, text: string): void {
    const log = this.#o.log;
    const decoded = decodeMessage(text);
    if (decoded.kind === "critical") {
      log.warn("unparseable message from UI", { client: id, error: decoded.message });
      this.send(
        { client: id },
        oneWay("unmarshalError", { message: decoded.message, badData: text }),
      );
      return;
    }
    if (decoded.kind === "noncritical") {
      log.warn("bad message from UI", {
        client: id,
        opcode: decoded.opcode,
        error: decoded.message,
      });
      this.send(
        { client: id },
        decoded.contextId === null
          ? oneWay("unmarshalError", { message: decoded.message, badData: text })
          : errorMessage(
            decoded.opcode,
            decoded.contextId,
            ErrorCode.UNMARSHAL_ERROR,
            decoded.message,
          ),
      );
      return;
    }
    try {
      this.#o.onMessage(id, decoded.message);
    } catch (error) {
      log.error("message handler threw", { client: id, error: errorText(error) });
    }
  }

  #drop(id: ClientId, code: number, reason: string): void {
    const socket = this.#clients.get(id);
    if (!socket) return;
    this.#clients.delete(id);
    try {
      socket.close(code, reason);
    } catch {
      // already closing
    }
    this.#o.onDisconnect?.(id);
  }

  /** Sends a text frame; returns how many clients it went to. A client too far behind is dropped. */
  send(target: Target, text: string): number {
    let sent = 0;
    const one = (id: ClientId, socket: WebSocket) => {
      if (socket.readyState !== WebSocket.OPEN) return;
      if (socket.bufferedAmount > this.#maxBuffered) {
        this.#o.log.warn("UI is not reading its messages; disconnecting it", { client: id });
        this.#drop(id, 1008, "too slow");
        return;
      }
      try {
        socket.send(text);
        sent++;
      } catch {
        this.#drop(id, 1011, "send failed");
      }
    };
    if ("client" in target) {
      const socket = this.#clients.get(target.client);
      if (socket) one(target.client, socket);
    } else {
      const except = "allExcept" in target ? target.allExcept : -1;
      for (const [id, socket] of [...this.#clients]) if (id !== except) one(id, socket);
    }
    return sent;
  }

  /** Closes every client and the listener. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const [id, socket] of [...this.#clients]) {
      this.#clients.delete(id);
      try {
        socket.close(1001, "going away");
      } catch {
        // already closed
      }
    }
    const server = this.#server;
    this.#server = null;
    if (!server) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.shutdown().catch(() => {}),
      new Promise<void>((resolve) => timer = setTimeout(resolve, 1000)),
    ]);
    clearTimeout(timer);
  }
}
