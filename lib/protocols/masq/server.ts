/**
 * The MASQNode-UIv2 WebSocket listener, shared by the Daemon and the built-in Node: loopback
 * only, refuses an upgrade without the `MASQNode-UIv2` subprotocol (400) or with a browser
 * `Origin` outside the allow-list (403), numbers clients from 0 (each a `connection.ts`), and
 * routes replies to one client, all clients, or all but one.
 */
import {
  DEFAULT_LIMITS,
  errorText,
  type LimitsConfig,
  ListenerLimits,
  type Logger,
  serveTcp,
  type TcpHttpServer,
  upgradeWebSocket,
} from "../../core/mod.ts";
import { NODE_UI_PROTOCOL } from "./codes.ts";
import { MASQ_LIMITS } from "./config.ts";
import type { UiMessage } from "./codec.ts";
import { type ClientId, MasqConnection, type MasqConnectionHost } from "./connection.ts";

/** Where an outbound message goes. */
export type MasqTarget = { client: ClientId } | { all: true } | { allExcept: ClientId };

/** Options for {@linkcode MasqServer.listen}. */
export interface MasqServerOptions {
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
  /** The port's limits (connection cap, head deadline, idle timeout). */
  limits?: LimitsConfig;
  /** The service name the limits are shown under in /metrics. @default {"masq"} */
  service?: string;
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

/** The refusal of an upgrade request, or null when it may be upgraded. */
function refusal(request: Request, allowedOrigins: readonly string[], log: Logger) {
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
  if (origin !== null && !allowedOrigins.includes(origin)) {
    log.warn("UI connection refused: origin not allowed", { origin });
    return new Response("Origin not allowed\n", { status: 403 });
  }
  return null;
}

/** A listening transport. */
export class MasqServer {
  #o: MasqServerOptions;
  #hostname: string;
  #clients = new Map<ClientId, MasqConnection>();
  #host: MasqConnectionHost;
  #nextId = 0;
  #closing = false;
  #server: TcpHttpServer | null = null;
  #port = 0;
  #limits: ListenerLimits;

  private constructor(options: MasqServerOptions) {
    this.#o = options;
    this.#hostname = options.hostname ?? "127.0.0.1";
    this.#limits = new ListenerLimits(
      options.service ?? "masq",
      `${this.#hostname}:${options.port}`,
      options.limits ?? { ...DEFAULT_LIMITS, ...MASQ_LIMITS },
      options.log,
    );
    const limits = this.#limits;
    const clients = this.#clients;
    this.#host = {
      log: options.log,
      maxMessageBytes: options.maxMessageBytes ?? 1 << 20,
      maxBufferedBytes: options.maxBufferedBytes ?? 8 << 20,
      closing: () => this.#closing,
      attach: (connection) => clients.set(connection.id, connection),
      detach: (connection) => clients.delete(connection.id),
      onMessage: options.onMessage,
      onOversize: () => limits.refuse("oversize"),
      ...(options.onConnect ? { onConnect: options.onConnect } : {}),
      ...(options.onDisconnect ? { onDisconnect: options.onDisconnect } : {}),
    };
  }

  /** Starts listening; rejects with {@linkcode PortBusyError} when the port is taken. */
  static async listen(options: MasqServerOptions): Promise<MasqServer> {
    const server = new MasqServer(options);
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
    try {
      const { server, addr } = await serveTcp({
        hostname: this.#hostname,
        port: this.#o.port,
        limits: this.#limits,
        onError: (error) => {
          this.#o.log.error("UI request failed", { error: errorText(error) });
          return new Response("internal error\n", { status: 500 });
        },
      }, (request) => this.#upgrade(request));
      this.#server = server;
      this.#port = addr.port;
    } catch (error) {
      this.#limits.close();
      if (error instanceof Deno.errors.AddrInUse) {
        throw new PortBusyError(this.#hostname, this.#o.port, { cause: error });
      }
      throw error;
    }
  }

  #upgrade(request: Request): Response {
    const refused = refusal(request, this.#o.allowedOrigins, this.#o.log);
    if (refused) return refused;
    let upgraded: { socket: WebSocket; response: Response };
    try {
      upgraded = upgradeWebSocket(request, { protocol: NODE_UI_PROTOCOL });
    } catch (error) {
      return new Response(`Bad WebSocket upgrade: ${errorText(error)}\n`, { status: 400 });
    }
    new MasqConnection(this.#nextId++, upgraded.socket, this.#host);
    return upgraded.response;
  }

  /** Sends a text frame; returns how many clients it went to. A client too far behind is dropped. */
  send(target: MasqTarget, text: string): number {
    if ("client" in target) return this.#clients.get(target.client)?.send(text) ? 1 : 0;
    const except = "allExcept" in target ? target.allExcept : -1;
    let sent = 0;
    for (const [id, connection] of [...this.#clients]) {
      if (id !== except && connection.send(text)) sent++;
    }
    return sent;
  }

  /** Closes every client and the listener. */
  async close(): Promise<void> {
    this.#closing = true;
    for (const connection of [...this.#clients.values()]) connection.goAway();
    this.#clients.clear();
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
