/**
 * One client connection of a TCP listener (sozu's TCP proxy, L4): picks a backend of the
 * listener's cluster with the routing table's balancing (up to {@linkcode CONNECT_ATTEMPTS}
 * attempts on different backends, each counted in the backend's figures), optionally sends the
 * backend a PROXY header (the cluster's `proxy_protocol`: SEND_HEADER a v2 one naming the
 * client, RELAY_HEADER the client's own), then pumps bytes both ways with two pooled buffers.
 * A side that ends its sending half has it passed on (half-close); the session ends when both
 * halves have, or on an error. The listener's front and back timeouts are idle timeouts of each
 * side (any read or write on it re-arms its deadline).
 */
import {
  closeQuietly,
  ConnectError,
  connectErrorText,
  connectWithTimeout,
} from "./backend_pool.ts";
import type { BufferPool } from "./buffer_pool.ts";
import type { ProxyCloseReason } from "./client_gate.ts";
import { CONNECT_ATTEMPTS } from "./exchange.ts";
import type { BackendSpec, ProxyProtocolMode } from "./model.ts";
import { type DuplexConn, ProxiedConn, proxyHeaderFor } from "./proxied_conn.ts";
import { type Reader, readerOf } from "./direct_read.ts";
import type { ClusterState, RoutedBackend, RoutingTable } from "./routing.ts";
import type { ListenerRuntime } from "./session.ts";
import { writeAll } from "./write.ts";

/** What a TCP session needs from its worker's engine. */
export interface TcpHost {
  readonly routing: RoutingTable;
  readonly ioBuffers: BufferPool;
  /** The engine's tick clock, ms. */
  readonly clock: number;
  /** Read sockets with Deno's read op directly (direct_read.ts). */
  readonly directReads: boolean;
  /** The cluster the TCP listener at `address` forwards to, or null (no front). */
  tcpCluster(address: string): string | null;
  sessionEnded(session: TcpSession): void;
  /** Counts a session closed by a timeout. */
  closedBy(reason: ProxyCloseReason): void;
  debug(msg: string, fields: Record<string, unknown>): void;
}

/**
 * Whether connections of a listener start with a PROXY header the engine reads: `expect_proxy`,
 * or a TCP listener whose cluster expects or relays one. HTTPS listeners read it before TLS
 * (tls_proxied.ts), not there.
 */
export function headerExpected(runtime: ListenerRuntime, host: TcpHost): boolean {
  if (runtime.proto === "https") return false;
  if (runtime.spec.expectProxy) return true;
  if (runtime.proto !== "tcp") return false;
  const mode = listenerCluster(host, runtime.address)?.spec?.proxyProtocol;
  return mode === "EXPECT_HEADER" || mode === "RELAY_HEADER";
}

/** The cluster a TCP listener's front names, if any. */
function listenerCluster(host: TcpHost, address: string): ClusterState | undefined {
  const clusterId = host.tcpCluster(address);
  return clusterId === null ? undefined : host.routing.cluster(clusterId);
}

/** One proxied TCP connection. */
export class TcpSession {
  readonly client: DuplexConn;
  readonly listener: ListenerRuntime;
  #host: TcpHost;
  #backend: Deno.TcpConn | null = null;
  /** The backend the session is counted on (see `RoutingTable.begin`). */
  #routed: RoutedBackend | null = null;
  #closed = false;
  #active = false;
  /** Idle deadlines of each side (tick clock, ms; 0 = none). */
  #frontDeadline = 0;
  #backDeadline = 0;

  constructor(client: DuplexConn, listener: ListenerRuntime, host: TcpHost) {
    this.client = client;
    this.listener = listener;
    this.#host = host;
  }

  /** A TCP session is never idle: a soft stop waits for it to end. */
  get idle(): boolean {
    return false;
  }

  /** Whether bytes moved since the last call (the engine's tick asks). */
  takeActivity(): boolean {
    const active = this.#active;
    this.#active = false;
    return active;
  }

  /** Closes both sides now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeQuietly(this.client);
    if (this.#backend) closeQuietly(this.#backend);
  }

  /** Called by the engine's timer: a side idle past its timeout ends the session. */
  checkTimeouts(now: number): void {
    if (
      (this.#frontDeadline !== 0 && now >= this.#frontDeadline) ||
      (this.#backDeadline !== 0 && now >= this.#backDeadline)
    ) {
      this.#host.debug("TCP session timed out", { listener: this.listener.address });
      this.#host.closedBy("idle_timeout");
      this.close();
    }
  }

  /** Serves the connection until both sides are done; never throws. */
  async run(): Promise<void> {
    const buffers: Uint8Array[] = [];
    try {
      this.#touchFront();
      const cluster = listenerCluster(this.#host, this.listener.address);
      if (cluster === undefined) {
        this.#host.debug("TCP listener has no front", { listener: this.listener.address });
        return;
      }
      const backend = await this.#connect(cluster);
      if (backend === null) return;
      if (this.#closed) return closeQuietly(backend);
      this.#backend = backend;
      this.#touchBack();
      await this.#sendHeader(backend, cluster.spec?.proxyProtocol);
      for (let i = 0; i < 2; i++) {
        const buf = this.#host.ioBuffers.acquire();
        if (buf === null) return;
        buffers.push(buf);
      }
      await Promise.all([
        this.#pump(readerOf(this.client, this.#host.directReads), backend, buffers[0]!, true),
        this.#pump(readerOf(backend, this.#host.directReads), this.client, buffers[1]!, false),
      ]);
    } catch (error) {
      if (!this.#closed) this.#host.debug("TCP session ended", { error: String(error) });
    } finally {
      this.close();
      if (this.#routed) this.#host.routing.end(this.#routed);
      for (const buf of buffers) this.#host.ioBuffers.release(buf);
      this.#host.sessionEnded(this);
    }
  }

  /** A connection to a backend of the listener's cluster, or null (then the client is closed). */
  async #connect(cluster: ClusterState): Promise<Deno.TcpConn | null> {
    const routing = this.#host.routing;
    let tried: BackendSpec[] | null = null;
    for (let attempt = 0; attempt < CONNECT_ATTEMPTS && !this.#closed; attempt++) {
      const backend: RoutedBackend | null = routing.pickBackend(cluster, tried);
      if (backend === null) return null;
      try {
        const conn = await connectWithTimeout(backend.address, this.listener.connectTimeoutMs);
        routing.connected(cluster, backend, this.#host.clock);
        backend.counters.requests++;
        // In flight on the backend until the session ends (least_loaded reads it; a removed
        // backend reports it has no connections left when it drops to 0).
        routing.begin(backend);
        this.#routed = backend;
        return conn;
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        const text = connectErrorText(error);
        routing.connectFailed(backend, text, this.#host.clock);
        this.#host.debug("backend connect failed", { backend: backend.address, error: text });
        (tried ??= []).push(backend);
      }
    }
    return null;
  }

  /** The cluster's `proxy_protocol` (`mode`) towards the backend. */
  async #sendHeader(backend: Deno.TcpConn, mode: ProxyProtocolMode | undefined): Promise<void> {
    if (mode === "SEND_HEADER") await writeAll(backend, proxyHeaderFor(this.client));
    else if (mode === "RELAY_HEADER" && this.client instanceof ProxiedConn) {
      await writeAll(backend, this.client.rawHeader);
    }
  }

  #touchFront(): void {
    this.#active = true;
    this.#frontDeadline = this.#host.clock + this.listener.frontTimeoutMs;
  }

  #touchBack(): void {
    this.#active = true;
    this.#backDeadline = this.#host.clock + this.listener.backTimeoutMs;
  }

  /** Copies `from` to `to` until `from` ends its half, then ends `to`'s sending half. */
  async #pump(read: Reader, to: DuplexConn, buf: Uint8Array, fromClient: boolean): Promise<void> {
    try {
      for (;;) {
        const n = await read(buf);
        if (!n || this.#closed) break;
        if (fromClient) this.#touchFront();
        else this.#touchBack();
        await writeAll(to, n === buf.byteLength ? buf : buf.subarray(0, n));
        if (fromClient) this.#touchBack();
        else this.#touchFront();
      }
      if (!this.#closed) await to.closeWrite?.();
    } catch (error) {
      if (!this.#closed) this.#host.debug("TCP pump ended", { error: String(error) });
      this.close();
    }
  }
}
