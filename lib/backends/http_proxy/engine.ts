/**
 * The proxy of one worker isolate: applies orders to its routing table and listeners, accepts
 * connections and runs a {@linkcode ProxySession} for each, enforces timeouts from one coarse
 * timer (a timer wheel, not a poll), and stops softly (drain) or hard (drop).
 */
import { AccessLog } from "./access_log.ts";
import { parseAddress } from "./address.ts";
import { BackendPool, type ByteConn, closeQuietly } from "./backend_pool.ts";
import { rollBackends } from "./backend_stats.ts";
import { BufferPool } from "./buffer_pool.ts";
import { ClientGate, type ProxyCloseReason } from "./client_gate.ts";
import { DIRECT_READ_OP } from "./direct_read.ts";
import { ListenerSet } from "./listener_set.ts";
import type { FrontLog, TlsEngineName } from "./listeners.ts";
import type {
  AccessLogOptions,
  MetricsChange,
  ProxyOrder,
  TlsEngineChoice,
  WorkerTraffic,
} from "./model.ts";
import { createRandom } from "./prng.ts";
import { acceptProxied, type DuplexConn } from "./proxied_conn.ts";
import { type RoutingEvent, RoutingTable } from "./routing.ts";
import { type ListenerRuntime, ProxySession, type SessionHost } from "./session.ts";
import { headerExpected, type TcpHost, TcpSession } from "./tcp_session.ts";
import { TrafficMetrics } from "./traffic_stats.ts";

/** Log callback of an engine (the worker forwards lines to the main isolate's logger). */
export type EngineLog = FrontLog;

/** Options for a {@linkcode ProxyEngine}. */
export interface ProxyEngineOptions {
  workerId: number;
  /** Bind listeners with SO_REUSEPORT (several workers on one port). @default {true} */
  reusePort?: boolean;
  log?: EngineLog;
  /**
   * Request buffer size per connection, bytes; a longer head grows it (up to 64 KiB) for that
   * request only. @default {4096}
   */
  requestBufferSize?: number;
  /** Response/output buffer size per exchange, bytes (nginx's proxy_buffer_size). @default {8192} */
  ioBufferSize?: number;
  /** Client connections at once, at most (more are closed at accept). @default {10000} */
  maxConnections?: number;
  /**
   * Client connections at once from one address, at most (more are closed at accept); 0 = no
   * cap. Not applied on listeners that expect a PROXY header. @default {256}
   */
  maxConnectionsPerClient?: number;
  /** Timer resolution for timeouts, ms. @default {100} */
  tickMs?: number;
  /** Idle keep-alive connections kept per backend. @default {256} */
  maxIdlePerBackend?: number;
  /**
   * Client connections active within one tick above which every exchange ends with a turn of
   * the event loop (see {@linkcode SessionHost.crowded}). 0 turns it off. @default {128}
   */
  fairnessThreshold?: number;
  /** TLS engine of HTTPS listeners. @default {"auto"} */
  tlsEngine?: TlsEngineChoice;
  /**
   * Read sockets with Deno's read op directly (direct_read.ts); false reads with `conn.read`.
   * @default {true}
   */
  directReads?: boolean;
  /** Seed of the balancing / back-off random source (tests). @default {from crypto} */
  seed?: number;
  /** One retry back-off unit, ms (sozu: 1 s; tests shorten it). @default {1000} */
  retryUnitMs?: number;
  /** Told every backend health event (the worker forwards them to the main isolate). */
  onEvent?: (event: RoutingEvent) => void;
  /** Collect traffic metrics. @default {true} */
  metrics?: boolean;
  /** The access log, off when absent. */
  accessLog?: AccessLogOptions;
}

function heapFigures(): { heapUsed: number; heapTotal: number; external: number } {
  const m = Deno.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external };
}

/** Counters of one engine. */
export interface EngineStats {
  sessions: number;
  accepted: number;
  requests: number;
  idleBackendConnections: number;
  fronts: number;
  /** Whether exchanges currently end with an event-loop turn (see `fairnessThreshold`). */
  crowded: boolean;
  /** This worker isolate's V8 heap, bytes. */
  heapUsed: number;
  heapTotal: number;
  /** Memory outside the V8 heap held by this isolate (buffers), bytes. */
  external: number;
  /** The TLS engine of each active HTTPS listener. */
  tls: Record<string, TlsEngineName>;
  /** Pooled buffers lent out now (request heads, relay I/O): 0 once every session ended. */
  buffersInUse: { request: number; io: number };
  /** Whether sockets are read with Deno's read op directly (direct_read.ts). */
  directReads: boolean;
}

/** The proxy of one worker. */
export class ProxyEngine implements SessionHost, TcpHost {
  readonly routing: RoutingTable;
  readonly pool: BackendPool;
  /** Sockets are read with Deno's read op directly (direct_read.ts): asked for and available. */
  readonly directReads: boolean;
  readonly requestBuffers: BufferPool;
  readonly ioBuffers: BufferPool;
  readonly metrics: TrafficMetrics;
  #accessLog: AccessLog | null = null;
  #workerId: number;
  #reusePort: boolean;
  #log: EngineLog;
  #listeners: ListenerSet;
  #sessions = new Set<ProxySession | TcpSession>();
  /** TCP listener address → the cluster of its one front. */
  #tcpFronts = new Map<string, string>();
  #stopping = false;
  /** See {@linkcode SessionHost.lingerUntil}. */
  lingerUntil = 0;
  #stopped = false;
  #drained: (() => void) | null = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #tickMs: number;
  #lastPoolSweep = 0;
  #idPrefix: string;
  #idCounter = 0;
  #accepted = 0;
  #maxConnections: number;
  /** Per-client-address cap and the counts of connections closed by a limit. */
  #gate: ClientGate;
  /** The address each capped session is counted under. */
  #peerOf = new Map<ProxySession | TcpSession, string>();
  #fairnessThreshold: number;
  #crowded = false;
  #second = 0; // the Unix second of the last tick: the backends' series close when it changes

  constructor(options: ProxyEngineOptions) {
    this.#workerId = options.workerId;
    this.#reusePort = options.reusePort ?? true;
    this.#log = options.log ?? (() => {});
    this.#tickMs = options.tickMs ?? 100;
    this.#maxConnections = options.maxConnections ?? 10_000;
    this.#gate = new ClientGate(options.maxConnectionsPerClient ?? 256);
    this.#fairnessThreshold = options.fairnessThreshold ?? 128;
    this.metrics = new TrafficMetrics(options.metrics ?? true);
    if (options.accessLog) {
      const { path, listeners } = options.accessLog;
      this.#accessLog = new AccessLog(
        path,
        listeners,
        (error) =>
          this.#log("error", "cannot write the access log; lines are dropped until it works", {
            path,
            error: String(error),
          }),
        (dropped) => this.#log("info", "the access log is written again", { path, dropped }),
      );
    }
    this.directReads = (options.directReads ?? true) && DIRECT_READ_OP;
    this.pool = new BackendPool({
      maxIdlePerBackend: options.maxIdlePerBackend ?? 256,
      directReads: this.directReads,
    });
    this.routing = new RoutingTable({
      clock: this.pool,
      random: createRandom(options.seed),
      retryUnitMs: options.retryUnitMs ?? 1000,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    this.requestBuffers = new BufferPool({
      size: options.requestBufferSize ?? 4 * 1024,
      maxInUse: this.#maxConnections,
      maxFree: 128,
    });
    // Enough idle response buffers for a burst of 512 busy connections: with fewer, every burst
    // dropped and re-allocated them, and the garbage buffers cost 20 % throughput at -c512 (GC
    // driven by external memory); at most 4 MiB stay allocated after a burst.
    this.ioBuffers = new BufferPool({
      size: options.ioBufferSize ?? 8 * 1024,
      maxInUse: this.#maxConnections * 3,
      maxFree: 512,
    });
    this.#listeners = new ListenerSet({
      reusePort: this.#reusePort,
      tlsEngine: options.tlsEngine ?? "auto",
      log: this.#log,
      serve: (conn, runtime, tls) => this.accept(conn, runtime, !tls),
    });
    const rand = crypto.getRandomValues(new Uint8Array(5));
    this.#idPrefix = [...rand].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase() +
      this.#workerId.toString(36).toUpperCase() + "-";
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** The tick clock (kept by the backend pool, which measures idle ages with it) plus a tick. */
  get deadlineBase(): number {
    return this.pool.clock + this.#tickMs;
  }

  nextRequestId(): string {
    return this.#idPrefix + (++this.#idCounter).toString(36).toUpperCase();
  }

  /** The engine's tick clock, ms (TCP sessions' deadlines use it). */
  get clock(): number {
    return this.pool.clock;
  }

  tcpCluster(address: string): string | null {
    return this.#tcpFronts.get(address) ?? null;
  }

  sessionEnded(session: ProxySession | TcpSession): void {
    this.#sessions.delete(session);
    const peer = this.#peerOf.get(session);
    if (peer !== undefined) {
      this.#peerOf.delete(session);
      this.#gate.release(peer);
    }
    if (this.#sessions.size === 0 && this.#drained) {
      const done = this.#drained;
      this.#drained = null;
      done();
    }
  }

  accessLogFor(listener: string): AccessLog | null {
    const log = this.#accessLog;
    return log !== null && log.wants(listener) ? log : null;
  }

  /** This worker's traffic figures (sozu METRICS). */
  traffic(): WorkerTraffic {
    return this.metrics.snapshot(
      {
        workerId: this.#workerId,
        accepted: this.#accepted,
        sessions: this.#sessions.size,
        closed: this.#gate.counts(),
      },
      this.routing.backends(),
      (id) => this.routing.cluster(id) !== undefined,
    );
  }

  /** Writes the access log's queued lines and closes its file (the stops call it). */
  async closeAccessLog(): Promise<void> {
    await this.#accessLog?.close();
  }

  /** CONFIGURE_METRICS: collection on or off, or every figure cleared. */
  configureMetrics(change: MetricsChange): void {
    if (change === "clear") this.metrics.clear();
    else this.metrics.enabled = change === "enable";
  }

  /** A session closed by a timeout (or a connection refused at accept): counted by reason. */
  closedBy(reason: ProxyCloseReason): void {
    this.#gate.count(reason);
  }

  debug(msg: string, fields: Record<string, unknown>): void {
    this.#log("debug", msg, fields);
  }

  /** Counters for status replies and tests. */
  stats(): EngineStats {
    return {
      sessions: this.#sessions.size,
      accepted: this.#accepted,
      requests: this.#idCounter,
      idleBackendConnections: this.pool.idleCount,
      fronts: this.routing.frontCount,
      crowded: this.#crowded,
      ...heapFigures(),
      tls: this.#listeners.engines(),
      buffersInUse: { request: this.requestBuffers.inUse, io: this.ioBuffers.inUse },
      directReads: this.directReads,
    };
  }

  /**
   * Applies one order; throws (with a message fit for an ERROR reply) when it cannot. Binding an
   * HTTPS listener on the node engine (also when a certificate change moves a listener to it) is
   * asynchronous: then it returns a promise.
   */
  apply(order: ProxyOrder): void | Promise<void> {
    if (this.#stopped) throw new Error("the proxy worker is stopped");
    switch (order.op) {
      case "add_listener":
        this.#listeners.add(order.listener);
        return;
      case "remove_listener":
        this.#listeners.remove(order.address);
        return;
      case "activate_listener":
        if (this.#stopping) return;
        this.#ensureTimer();
        return this.#listeners.activate(order.address);
      case "deactivate_listener":
        this.#listeners.deactivate(order.address);
        return;
      case "add_certificate":
        return this.#listeners.addCertificate(order.listener, order.certificate);
      case "remove_certificate":
        return this.#listeners.removeCertificate(order.listener, order.fingerprint);
      case "replace_certificate":
        return this.#listeners.replaceCertificate(
          order.listener,
          order.oldFingerprint,
          order.certificate,
        );
      case "add_cluster":
        this.routing.addCluster(order.cluster);
        return;
      case "remove_cluster":
        this.routing.removeCluster(order.id);
        return;
      case "add_front":
        this.routing.addFront(order.front);
        return;
      case "remove_front":
        this.routing.removeFront(order.front);
        return;
      case "add_tcp_front":
        this.#tcpFronts.set(order.front.listener, order.front.clusterId);
        return;
      case "remove_tcp_front":
        if (this.#tcpFronts.get(order.front.listener) === order.front.clusterId) {
          this.#tcpFronts.delete(order.front.listener);
        }
        return;
      case "add_backend":
        parseAddress(order.backend.address);
        this.routing.addBackend(order.backend);
        return;
      case "remove_backend":
        this.routing.removeBackend(order.clusterId, order.backendId, order.address);
        this.pool.dropAddress(order.address);
        return;
      default: {
        const never: never = order;
        throw new Error(`unknown order ${(never as { op: string }).op}`);
      }
    }
  }

  /** Addresses of the listeners currently accepting. */
  activeListeners(): string[] {
    return this.#listeners.active();
  }

  /**
   * Serves one accepted connection (plain TCP, or TLS) on a listener. `noDelay`: set TCP_NODELAY
   * (a native TLS connection has no such call; its responses leave in one write anyway).
   */
  accept(conn: ByteConn, runtime: ListenerRuntime, noDelay = true): void {
    this.#accepted++;
    if (this.#stopping && (this.lingerUntil === 0 || this.#stopped)) {
      closeQuietly(conn);
      return;
    }
    this.#ensureTimer();
    if (headerExpected(runtime, this)) {
      acceptProxied(conn, runtime, this.#log, (proxied) => this.#serve(proxied, runtime, noDelay));
      return;
    }
    const peer = this.#gate.admit(conn);
    if (peer === false) return closeQuietly(conn);
    this.#serve(conn, runtime, noDelay, peer);
  }

  /** `peer`: the address the connection is counted under (released when it ends), or null. */
  #serve(
    conn: DuplexConn,
    runtime: ListenerRuntime,
    noDelay: boolean,
    peer = null as string | null,
  ): void {
    if (this.#stopping && (this.lingerUntil === 0 || this.#stopped)) {
      if (peer !== null) this.#gate.release(peer);
      closeQuietly(conn);
      return;
    }
    if (noDelay) {
      try {
        conn.setNoDelay?.(true);
      } catch {
        // not a TCP socket
      }
    }
    if (runtime.proto === "tcp") {
      const tcp = new TcpSession(conn, runtime, this);
      this.#sessions.add(tcp);
      if (peer !== null) this.#peerOf.set(tcp, peer);
      tcp.run();
      return;
    }
    const buf = this.requestBuffers.acquire();
    if (buf === null) {
      if (peer !== null) this.#gate.release(peer);
      this.#gate.count("max_connections");
      closeQuietly(conn);
      return;
    }
    const session = new ProxySession(conn, runtime, this, buf);
    this.#sessions.add(session);
    if (peer !== null) this.#peerOf.set(session, peer);
    session.run();
  }

  /** The runtime view of a listener (for callers that accept connections themselves). */
  listenerRuntime(address: string): ListenerRuntime | undefined {
    return this.#listeners.runtime(address);
  }

  /** The HTTPS port an `https_redirect` for this host and path points to (null: 443). */
  httpsRedirectPort(hostname: string, path: string): number | null {
    return this.#listeners.httpsPort((address) =>
      this.routing.lookup(address, hostname, path, "GET") !== null
    );
  }

  #ensureTimer(): void {
    if (this.#timer !== null) return;
    this.pool.clock = Date.now();
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
  }

  /** More client connections were active during the last tick than the fairness threshold. */
  get crowded(): boolean {
    return this.#crowded;
  }

  #tick(): void {
    const now = Date.now();
    this.pool.clock = now;
    let active = 0;
    for (const session of this.#sessions) {
      session.checkTimeouts(now);
      if (session.takeActivity()) active++;
    }
    this.#crowded = this.#fairnessThreshold > 0 && active > this.#fairnessThreshold;
    if (this.lingerUntil !== 0 && now >= this.lingerUntil) this.#closeIdle();
    this.#accessLog?.flush();
    if (now - this.#lastPoolSweep >= 1000) {
      this.#lastPoolSweep = now;
      this.pool.sweep(now);
    }
    const second = Math.floor(now / 1000);
    if (second !== this.#second) rollBackends(this.routing.backends(), this.#second = second);
  }

  /**
   * Stops accepting, closes idle keep-alive connections and resolves when the rest finished. With
   * `idleGraceMs` (upgrades) idle ones may first send one last request, answered `Connection:
   * close` (closed under a client reusing it, it would fail), and late accepts are served too.
   */
  async softStop(idleGraceMs = 0): Promise<void> {
    this.#stopping = true;
    this.#listeners.closeAll();
    this.lingerUntil = idleGraceMs > 0 ? Date.now() + idleGraceMs : 0;
    const closed = idleGraceMs > 0 ? 0 : this.#closeIdle();
    const inFlight = this.#sessions.size - closed;
    this.#log("info", "soft stop: draining", { idleClosed: closed, inFlight });
    if (idleGraceMs > 0) await new Promise((r) => setTimeout(r, 50));
    if (this.#sessions.size > 0) await new Promise<void>((r) => this.#drained = r);
    this.#finish();
  }

  #closeIdle(): number {
    this.lingerUntil = 0;
    const idle = [...this.#sessions].filter((session) => session.idle);
    for (const session of idle) session.close();
    return idle.length;
  }

  /** Drops every listener and connection now. */
  hardStop(): void {
    this.#stopping = true;
    this.#listeners.closeAll();
    for (const session of this.#sessions) session.close();
    this.#finish();
  }

  #finish(): void {
    this.#stopped = true;
    this.pool.closeAll();
    if (this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }
}
