/**
 * The proxy of one worker isolate: applies orders to its routing table and listeners, accepts
 * connections and runs a {@linkcode ProxySession} for each, enforces timeouts from one coarse
 * timer (a timer wheel, not a poll), and stops softly (drain) or hard (drop).
 */
import { parseAddress } from "./address.ts";
import { BackendPool, type ByteConn, closeQuietly } from "./backend_pool.ts";
import { rollBackends } from "./backend_stats.ts";
import { BufferPool } from "./buffer_pool.ts";
import type { ListenerSpec, ProxyOrder } from "./model.ts";
import { RoutingTable } from "./routing.ts";
import { type ListenerRuntime, ProxySession, type SessionHost } from "./session.ts";

/** Log callback of an engine (the worker forwards lines to the main isolate's logger). */
export type EngineLog = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

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
  /** Timer resolution for timeouts, ms. @default {100} */
  tickMs?: number;
  /** Idle keep-alive connections kept per backend. @default {256} */
  maxIdlePerBackend?: number;
  /**
   * Client connections active within one tick above which every exchange ends with a turn of
   * the event loop (see {@linkcode SessionHost.crowded}). 0 turns it off. @default {128}
   */
  fairnessThreshold?: number;
}

interface ListenerState {
  runtime: ListenerRuntime;
  listener: Deno.Listener | null;
  accepting: Promise<void> | null;
}

function runtimeOf(spec: ListenerSpec): ListenerRuntime {
  const bound = parseAddress(spec.address);
  let publicPort = String(bound.port);
  if (spec.publicAddress) {
    try {
      publicPort = String(parseAddress(spec.publicAddress).port);
    } catch {
      // keep the bound port
    }
  }
  return {
    address: spec.address,
    spec,
    proto: spec.protocol,
    publicPort,
    byAddress: bound.hostname,
    frontTimeoutMs: spec.frontTimeoutMs ?? 60_000,
    backTimeoutMs: spec.backTimeoutMs ?? 30_000,
    connectTimeoutMs: spec.connectTimeoutMs ?? 3_000,
    requestTimeoutMs: spec.requestTimeoutMs ?? 10_000,
  };
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
}

/** The proxy of one worker. */
export class ProxyEngine implements SessionHost {
  readonly routing: RoutingTable = new RoutingTable();
  readonly pool: BackendPool;
  readonly requestBuffers: BufferPool;
  readonly ioBuffers: BufferPool;
  #workerId: number;
  #reusePort: boolean;
  #log: EngineLog;
  #listeners = new Map<string, ListenerState>();
  #sessions = new Set<ProxySession>();
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
  #fairnessThreshold: number;
  #crowded = false;
  #second = 0; // the Unix second of the last tick: the backends' series close when it changes

  constructor(options: ProxyEngineOptions) {
    this.#workerId = options.workerId;
    this.#reusePort = options.reusePort ?? true;
    this.#log = options.log ?? (() => {});
    this.#tickMs = options.tickMs ?? 100;
    this.#maxConnections = options.maxConnections ?? 10_000;
    this.#fairnessThreshold = options.fairnessThreshold ?? 128;
    this.pool = new BackendPool({ maxIdlePerBackend: options.maxIdlePerBackend ?? 256 });
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

  sessionEnded(session: ProxySession): void {
    this.#sessions.delete(session);
    if (this.#sessions.size === 0 && this.#drained) {
      const done = this.#drained;
      this.#drained = null;
      done();
    }
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
    };
  }

  /** Applies one order. Rejects (with a message fit for an ERROR reply) when it cannot. */
  apply(order: ProxyOrder): void {
    if (this.#stopped) throw new Error("the proxy worker is stopped");
    switch (order.op) {
      case "add_listener": {
        const existing = this.#listeners.get(order.listener.address);
        const runtime = runtimeOf(order.listener);
        if (existing) existing.runtime = runtime;
        else {this.#listeners.set(order.listener.address, {
            runtime,
            listener: null,
            accepting: null,
          });}
        return;
      }
      case "remove_listener": {
        const state = this.#listeners.get(order.address);
        if (!state) return;
        this.#closeListener(state);
        this.#listeners.delete(order.address);
        return;
      }
      case "activate_listener": {
        const state = this.#listeners.get(order.address);
        if (!state) throw new Error(`no listener at "${order.address}"`);
        if (state.listener || this.#stopping) return;
        this.#bind(state);
        return;
      }
      case "deactivate_listener": {
        const state = this.#listeners.get(order.address);
        if (state) this.#closeListener(state);
        return;
      }
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
    return [...this.#listeners.entries()].filter(([, s]) => s.listener !== null).map(([a]) => a);
  }

  #bind(state: ListenerState): void {
    const { hostname, port } = parseAddress(state.runtime.address);
    let listener: Deno.Listener;
    try {
      listener = Deno.listen({ hostname, port, reusePort: this.#reusePort, tcpBacklog: 4096 });
    } catch (error) {
      throw new Error(
        `cannot listen on "${state.runtime.address}": ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
    state.listener = listener;
    this.#ensureTimer();
    state.accepting = this.#acceptLoop(state, listener);
  }

  async #acceptLoop(state: ListenerState, listener: Deno.Listener): Promise<void> {
    while (state.listener === listener) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (state.listener !== listener || this.#stopped) return;
        if (error instanceof Deno.errors.BadResource || error instanceof Deno.errors.Interrupted) {
          return;
        }
        // Out of file descriptors or similar: back off briefly instead of spinning.
        this.#log("warn", "accept failed", {
          listener: state.runtime.address,
          error: String(error),
        });
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      this.accept(conn, state.runtime);
    }
  }

  /** Serves one accepted connection (plain TCP, or later a TLS one) on a listener. */
  accept(conn: ByteConn, runtime: ListenerRuntime): void {
    this.#accepted++;
    if (this.#stopping && (this.lingerUntil === 0 || this.#stopped)) {
      closeQuietly(conn);
      return;
    }
    this.#ensureTimer();
    const buf = this.requestBuffers.acquire();
    if (buf === null) {
      closeQuietly(conn);
      return;
    }
    try {
      conn.setNoDelay?.(true);
    } catch {
      // not a TCP socket
    }
    const session = new ProxySession(conn, runtime, this, buf);
    this.#sessions.add(session);
    session.run();
  }

  /** The runtime view of a listener (for callers that accept connections themselves). */
  listenerRuntime(address: string): ListenerRuntime | undefined {
    return this.#listeners.get(address)?.runtime;
  }

  #closeListener(state: ListenerState): void {
    const listener = state.listener;
    state.listener = null;
    state.accepting = null;
    if (listener) {
      try {
        listener.close();
      } catch {
        // already closed
      }
    }
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
    for (const state of this.#listeners.values()) this.#closeListener(state);
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
    for (const state of this.#listeners.values()) this.#closeListener(state);
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
