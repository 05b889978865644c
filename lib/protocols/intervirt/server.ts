/**
 * The listener: a Hono app under `Deno.serve` whose `GET <path>` upgrades to the Intervirt
 * WebSocket after the address allow-list, browser origin, client count and token checks;
 * everything else is 404. Each upgraded socket gets one {@linkcode IntervirtConnection}.
 */
import { Hono } from "hono";
import type { Context, Next } from "hono";
import {
  DEFAULT_LIMITS,
  type LimitsConfig,
  ListenerLimits,
  type Logger,
  serveTcp,
  splitHostPort,
  type TcpHttpServer,
  unmappedIp,
  upgradeWebSocket,
} from "../../core/mod.ts";
import { inSubnet, parseCidr, sameAddress } from "./containers/mod.ts";
import type { ContainerManager } from "./containers/mod.ts";
import { IntervirtConnection } from "./connection.ts";
import type { IntervirtHandlerTable } from "./handlers.ts";

/** Options for {@linkcode createIntervirtApp}. */
export interface IntervirtAppOptions {
  path: string;
  token: string;
  allow: readonly string[];
  allowedOrigins: readonly string[];
  maxClients: number;
  table: IntervirtHandlerTable;
  manager: ContainerManager;
  log: Logger;
  maxMessageBytes: number;
  maxInFlight: number;
  /** Every open connection (for /healthz counts and shutdown). */
  connections: Set<IntervirtConnection>;
  onConnectionsChanged?: () => void;
  /** A message refused by a size or in-flight cap (counted by the listener limits). */
  onRefusal?: (reason: "oversize" | "in_flight") => void;
}

/** Hono's env under Deno.serve: the peer address. */
export interface IntervirtAppEnv {
  Bindings: { remoteAddr?: Deno.NetAddr };
}

/** Whether `address` matches one allow-list entry (an address or a CIDR). */
export function allowed(address: string, allow: readonly string[]): boolean {
  if (allow.length === 0) return true;
  const ip = unmappedIp(address);
  for (const entry of allow) {
    try {
      if (entry.includes("/") ? inSubnet(ip, parseCidr(entry)) : sameAddress(ip, entry)) {
        return true;
      }
    } catch {
      // an unparsable entry matches nothing
    }
  }
  return false;
}

function tokenMatches(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = new TextEncoder().encode(given);
  const b = new TextEncoder().encode(token);
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a[i] ?? 0) ^ b[i]!;
  return diff === 0;
}

/**
 * The checks before the upgrade: allow-list, origin, token, upgrade header (the client count is
 * the listener limits' cap: `max_clients`, or `limits.max_connections` when smaller).
 */
function admission(options: IntervirtAppOptions) {
  return async (c: Context<IntervirtAppEnv>, next: Next) => {
    const peer = c.env?.remoteAddr?.hostname ?? "";
    if (!allowed(peer, options.allow)) {
      options.log.warn("client refused by the allow-list", { peer });
      return c.text("forbidden\n", 403);
    }
    const origin = c.req.header("origin");
    if (origin !== undefined && !options.allowedOrigins.includes(origin)) {
      options.log.warn("client refused: browser origin not allowed", { peer, origin });
      return c.text("forbidden origin\n", 403);
    }
    if (options.token !== "") {
      const header = c.req.header("authorization");
      const given = c.req.query("token") ??
        (header?.startsWith("Bearer ") ? header.slice(7) : c.req.header("x-intervirt-token"));
      if (!tokenMatches(given, options.token)) {
        options.log.warn("client refused: bad or missing token", { peer });
        return c.text("unauthorized\n", 401);
      }
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.text("expected a WebSocket upgrade\n", 426);
    }
    await next();
  };
}

/** The WebSocket side: one {@linkcode IntervirtConnection} per socket. */
function socketEvents(options: IntervirtAppOptions) {
  return (c: Context<IntervirtAppEnv>) => {
    const { socket: ws, response } = upgradeWebSocket(c.req.raw);
    const connection = new IntervirtConnection({
      table: options.table,
      manager: options.manager,
      log: options.log,
      maxMessageBytes: options.maxMessageBytes,
      maxInFlight: options.maxInFlight,
      closeSocket: () => ws.close(1001, "agent stopping"),
      send: (frame) => {
        if (ws.readyState === 1) ws.send(JSON.stringify(frame));
      },
      ...(options.onRefusal ? { onRefusal: options.onRefusal } : {}),
    });
    ws.onopen = () => {
      options.connections.add(connection);
      options.onConnectionsChanged?.();
    };
    ws.onmessage = (event) => {
      connection.receive(event.data).catch((error) =>
        options.log.error("session failed", { error })
      );
    };
    ws.onclose = () => {
      connection.close();
      if (options.connections.delete(connection)) options.onConnectionsChanged?.();
    };
    return response;
  };
}

/** Builds the app. */
export function createIntervirtApp(options: IntervirtAppOptions): Hono<IntervirtAppEnv> {
  const app = new Hono<IntervirtAppEnv>();
  app.get(options.path, admission(options), socketEvents(options));
  app.notFound((c) => c.text("not found\n", 404));
  return app;
}

/** Options for {@linkcode serveIntervirt}. */
export interface IntervirtListenOptions {
  /** `host:port`. */
  listen: string;
  signal: AbortSignal;
  log: Logger;
  /** `[intervirt.limits]` with `max_clients` folded into `max_connections`. */
  limits: ListenerLimits;
}

/** A listening server and its bound address. */
export interface IntervirtListener {
  server: TcpHttpServer;
  address: Deno.NetAddr;
}

/** Serves `app` on `options.listen`; resolves once it listens. */
export async function serveIntervirt(
  app: Hono<IntervirtAppEnv>,
  options: IntervirtListenOptions,
): Promise<IntervirtListener> {
  const { hostname, port } = splitHostPort(options.listen);
  const { server, addr } = await serveTcp({
    hostname,
    port,
    signal: options.signal,
    limits: options.limits,
    onError: (error) => {
      options.log.error("intervirt request failed", { error });
      return new Response("internal error\n", { status: 500 });
    },
  }, (req, info) => app.fetch(req, { remoteAddr: info.remoteAddr }));
  return { server, address: addr };
}

/** The listener's limits: `[intervirt.limits]`, capped at `max_clients` connections. */
export function intervirtLimits(
  listen: string,
  limits: LimitsConfig | undefined,
  maxClients: number,
  log: Logger,
): ListenerLimits {
  const max = Math.min(limits?.max_connections ?? DEFAULT_LIMITS.max_connections, maxClients);
  const config = { ...limits, max_connections: max };
  return new ListenerLimits("intervirt", listen, config, log);
}
