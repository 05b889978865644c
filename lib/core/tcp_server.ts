/**
 * TCP control listeners (admin, intervirt, masq) that an upgrade can move without refusing a
 * connection. Every server binds with SO_REUSEPORT, after a plain bind of the same address showed
 * that nobody else holds it (so a second agent on the same port still fails with "address in
 * use"). At an upgrade the successor serves each of the old agent's addresses alongside it
 * ({@linkcode holdTcpServers}) with requests held until the service that owns the address starts
 * and claims the server through {@linkcode serveTcp}; the old agent then closes its own.
 */

import {
  type NodeServerRoute,
  startNodeServer,
  type TcpHandler,
  type TcpHttpServer,
} from "./http_node.ts";
import type { ListenerLimits } from "./limits.ts";

export type { TcpHandler, TcpHttpServer } from "./http_node.ts";
export { upgradeWebSocket } from "./http_node.ts";

/** Options for {@linkcode serveTcp}. */
export interface ServeTcpOptions {
  hostname: string;
  /** 0 picks a free port. */
  port: number;
  /** Shuts the server down when aborted. */
  signal?: AbortSignal;
  /** Answers a request whose handler threw. @default a plain 500 */
  onError?: (error: unknown) => Response | Promise<Response>;
  /**
   * The listener's limits (connection gate, request head deadline, keep-alive idle timeout);
   * closed with the server. None: no limits (tests).
   */
  limits?: ListenerLimits;
}

/** A listening server and the address it bound. */
export interface TcpServer {
  server: TcpHttpServer;
  addr: Deno.NetAddr;
}

/** An address of a TCP server, as the handover names it. */
export interface TcpAddress {
  hostname: string;
  port: number;
}

interface HeldServer extends TcpServer {
  claim(handler: TcpHandler, options: ServeTcpOptions): void;
}

const listening = new Map<string, TcpAddress>();
const held = new Map<string, HeldServer>();

function keyOf(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/** The addresses this process serves through {@linkcode serveTcp}, for an upgrade's handover. */
export function listeningTcpAddresses(): TcpAddress[] {
  return [...listening.values()];
}

function internalError(): Response {
  return new Response("internal error\n", { status: 500 });
}

/** Throws AddrInUse when someone holds the address; returns the port to bind (0 → a free one). */
function probe(hostname: string, port: number): number {
  const listener = Deno.listen({ hostname, port });
  const bound = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return bound;
}

function track(server: TcpServer): TcpServer {
  const key = keyOf(server.addr.hostname, server.addr.port);
  listening.set(key, { hostname: server.addr.hostname, port: server.addr.port });
  server.server.finished.catch(() => {}).finally(() => listening.delete(key));
  return server;
}

/**
 * Serves `handler` on `hostname:port` with SO_REUSEPORT; rejects with `Deno.errors.AddrInUse` when
 * another socket holds the address. During a takeover it claims the server the successor already
 * runs on that address.
 */
export async function serveTcp(options: ServeTcpOptions, handler: TcpHandler): Promise<TcpServer> {
  const key = keyOf(options.hostname, options.port);
  const waiting = options.port === 0 ? undefined : held.get(key);
  if (waiting) {
    held.delete(key);
    waiting.claim(handler, options);
    return track(waiting);
  }
  const port = probe(options.hostname, options.port);
  const route: NodeServerRoute = {
    handler,
    onError: options.onError ?? internalError,
    limits: options.limits ?? null,
  };
  const started = await startNodeServer(options.hostname, port, () => route, () => route.limits);
  closeWith(started.server, options);
  return track(started);
}

/** Shuts `server` down when `options.signal` aborts, and closes its limits when it stops. */
function closeWith(server: TcpHttpServer, options: ServeTcpOptions): void {
  options.signal?.addEventListener("abort", () => void server.shutdown().catch(() => {}), {
    once: true,
  });
  server.finished.catch(() => {}).finally(() => options.limits?.close());
}

/** Starts a server on `address` (beside the old agent's) that holds requests until claimed. */
async function holdOne(address: TcpAddress): Promise<HeldServer> {
  const gate = Promise.withResolvers<NodeServerRoute>();
  let limits: ListenerLimits | null = null;
  const started = await startNodeServer(
    address.hostname,
    address.port,
    () => gate.promise,
    () => limits,
  );
  return {
    ...started,
    addr: { transport: "tcp", hostname: address.hostname, port: address.port },
    claim(handler, options) {
      limits = options.limits ?? null;
      closeWith(started.server, options);
      gate.resolve({ handler, onError: options.onError ?? internalError, limits });
    },
  };
}

/**
 * Takeover: serves each address beside the old agent, requests held until a service claims it.
 * Addresses that cannot be shared (an old agent that bound without SO_REUSEPORT) are returned
 * with the reason; their service binds them when it starts, after the old agent closed them.
 */
export async function holdTcpServers(
  addresses: readonly TcpAddress[],
): Promise<{ failed: string[] }> {
  const failed: string[] = [];
  for (const address of addresses) {
    const key = keyOf(address.hostname, address.port);
    try {
      held.set(key, await holdOne(address));
    } catch (error) {
      failed.push(`${key}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { failed };
}

/** Shuts down the held servers no service claimed (requests waiting on them get 503). */
export async function releaseHeldTcpServers(): Promise<string[]> {
  const left = [...held.entries()];
  held.clear();
  for (const [, h] of left) {
    h.claim(() => new Response("service not running\n", { status: 503 }), {
      hostname: h.addr.hostname,
      port: h.addr.port,
    });
    await h.server.shutdown().catch(() => {});
  }
  return left.map(([key]) => key);
}
