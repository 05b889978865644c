/**
 * The data plane the control plane drives: `workerCount` Web Workers, each a full proxy sharing
 * every listening port (SO_REUSEPORT). Every order goes to every worker and `apply` resolves once
 * all have applied it. A worker that crashes, or does not answer an order in time, is replaced by
 * a new one fed `currentOrders()` and then any order still pending.
 */
import { enableTcpMigrateReq, type Logger } from "../../core/mod.ts";
import { mergeBackendFigures } from "./backend_stats.ts";
import { EventMerger } from "./event_merger.ts";
import type {
  BackendFigures,
  DataPlane,
  DataPlaneOptions,
  MetricsChange,
  ProxyLogLevel,
  ProxyOrder,
  SoftStopOptions,
  WorkerInfo,
  WorkerRunState,
  WorkerTraffic,
  WorkerUpgradeOptions,
} from "./model.ts";
import { PortGuard } from "./port_guard.ts";
import type { FromWorker, ToWorker, WorkerEngineOptions } from "./worker_protocol.ts";

/** Options for {@linkcode createDataPlane}. */
export interface CreateDataPlaneOptions extends DataPlaneOptions {
  log: Logger;
  /** Time a worker has to answer an order before it is replaced, ms. @default {10000} */
  orderTimeoutMs?: number;
  /** Engine tuning for every worker. */
  engine?: WorkerEngineOptions;
  /**
   * Starts the Web Worker of worker `id`; default {@linkcode spawnProxyWorker}. Tests pass one
   * that wraps worker_main.ts to inject faults (a crash, a hang).
   */
  spawnWorker?: (id: number) => Worker;
}

type Pending = {
  message: ToWorker & { seq: number };
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | null;
};

interface Slot {
  id: number;
  worker: Worker | null;
  state: WorkerRunState;
  pending: Map<number, Pending>;
  ready: Promise<void>;
  generation: number;
  /** Replaced by an upgrade and draining: gets no orders, and is not replaced if it dies. */
  retiring?: boolean;
}

const WORKER_URL = new URL("./worker_main.ts", import.meta.url).href;

/** Starts a proxy worker: a module Web Worker running worker_main.ts, named after its id. */
export function spawnProxyWorker(id: number): Worker {
  return new Worker(WORKER_URL, { type: "module", name: `sozu-proxy-${id}` });
}

/** Creates the data plane (not started). */
export function createDataPlane(options: CreateDataPlaneOptions): DataPlane & WorkerDataPlane {
  return new WorkerDataPlane(options);
}

/** Web Worker based data plane. */
export class WorkerDataPlane implements DataPlane {
  #options: CreateDataPlaneOptions;
  #log: Logger;
  #slots: Slot[] = [];
  #seq = 0;
  #nextWorkerId = 0;
  #stopping = false;
  #stopped = false;
  #orderTimeoutMs: number;
  #spawnWorker: (id: number) => Worker;
  #events: EventMerger;
  #ports = new PortGuard();
  /** Engine options every new worker gets (LOGGING and CONFIGURE_METRICS update them). */
  #engine: WorkerEngineOptions;

  constructor(options: CreateDataPlaneOptions) {
    this.#options = options;
    this.#events = new EventMerger(options.onEvent ?? (() => {}));
    this.#log = options.log;
    this.#orderTimeoutMs = options.orderTimeoutMs ?? 10_000;
    this.#spawnWorker = options.spawnWorker ?? spawnProxyWorker;
    const { metrics, accessLog } = options;
    this.#engine = { ...options.engine, ...(accessLog ? { accessLog } : {}) };
    if (metrics !== undefined) this.#engine.metrics = metrics;
    const perClient = options.maxConnectionsPerClient;
    if (perClient !== undefined) this.#engine.maxConnectionsPerClient = perClient;
  }

  /** Starts the workers and feeds them the current state. */
  async start(): Promise<void> {
    // Before any worker binds: no port may be held by another socket already.
    const orders = this.#options.currentOrders();
    for (const order of orders) this.#ports.before(order, this.#options.refuseShared ?? true);
    const count = Math.max(1, this.#options.workerCount);
    for (let i = 0; i < count; i++) this.#spawn(this.#newSlot());
    await Promise.all(this.#slots.map((s) => s.ready));
    const results = await Promise.allSettled(
      this.#slots.flatMap((slot) => orders.map((order) => this.#send(slot, { t: "apply", order }))),
    );
    const failed = results.find((r) => r.status === "rejected") as
      | PromiseRejectedResult
      | undefined;
    if (failed) {
      // Leave nothing half-started behind: the caller may retry with a fresh data plane.
      this.#stopping = true;
      this.#terminateAll();
      throw failed.reason;
    }
  }

  /** Applies an order on every worker (or only on worker `workerId`). */
  async apply(order: ProxyOrder, workerId?: number): Promise<void> {
    if (this.#stopping || this.#stopped) throw new Error("the proxy is stopping");
    this.#ports.before(order);
    await this.#applyOn(order, workerId).catch((error) => {
      this.#ports.failed(order);
      throw error;
    });
  }

  async #applyOn(order: ProxyOrder, workerId?: number): Promise<void> {
    const slots = this.#slots.filter((s) =>
      (s.state === "RUNNING" || s.state === "NOT_ANSWERING") &&
      (workerId === undefined || s.id === workerId)
    );
    if (slots.length === 0 && workerId !== undefined) {
      throw new Error(`worker ${workerId} not found`);
    }
    if (order.op === "remove_backend") {
      const { clusterId, backendId, address } = order;
      const holding = this.#slots.filter((s) =>
        s.worker !== null && (workerId === undefined || s.id === workerId)
      ).map((s) => s.id);
      this.#events.removing(clusterId, backendId, address, holding);
    }
    const results = await Promise.allSettled(
      slots.map((slot) => this.#send(slot, { t: "apply", order })),
    );
    const errors: string[] = [];
    results.forEach((r, i) => {
      if (r.status === "rejected") errors.push(`worker ${slots[i]!.id}: ${r.reason.message}`);
    });
    if (errors.length === 0) return;
    // Undo a bind that worked on some workers only, so no worker serves what the state refused.
    if (order.op === "activate_listener" && errors.length < slots.length) {
      await Promise.allSettled(
        slots.map((slot) =>
          this.#send(slot, {
            t: "apply",
            order: { op: "deactivate_listener", address: order.address },
          })
        ),
      );
    }
    throw new Error(errors.length === 1 ? errors[0]! : errors.join(", "));
  }

  /** The workers and their run states. */
  workers(): WorkerInfo[] {
    return this.#slots.map((s) => ({ id: s.id, pid: Deno.pid, runState: s.state }));
  }

  /** Per-worker counters (sessions, requests, …), for status and tests. */
  async stats(): Promise<unknown[]> {
    return await Promise.all(
      this.#slots.filter((s) => s.worker !== null).map((s) => this.#send(s, { t: "stats" })),
    );
  }

  /** Each backend's figures, added up over the workers. */
  async backendStats(): Promise<BackendFigures[]> {
    return mergeBackendFigures(await this.#askRunning<BackendFigures[]>({ t: "backend_stats" }));
  }

  /** Each running worker's traffic figures (a worker that does not answer is left out). */
  async metrics(): Promise<WorkerTraffic[]> {
    return (await this.#askRunning<WorkerTraffic | null>({ t: "metrics" })).filter((w) => !!w);
  }

  /** The answers of the running workers to `message` (one that fails is replaced, and skipped). */
  async #askRunning<T>(message: DistributiveOmit<ToWorker, "seq">): Promise<T[]> {
    const live = this.#slots.filter((s) => s.worker !== null && s.state === "RUNNING");
    const results = await Promise.allSettled(live.map((s) => this.#send(s, message)));
    return results.flatMap((r) => r.status === "fulfilled" ? [r.value as T] : []);
  }

  /** CONFIGURE_METRICS on every worker; new workers start with the last setting. */
  async configureMetrics(change: MetricsChange): Promise<void> {
    if (change !== "clear") this.#engine.metrics = change === "enable";
    await this.#askRunning({ t: "configure_metrics", change });
  }

  /** LOGGING: the level workers forward lines from; new workers start with it. */
  async setLogLevel(level: ProxyLogLevel): Promise<void> {
    this.#engine.logLevel = level;
    await this.#askRunning({ t: "log_level", level });
  }

  /** Stop accepting, let in-flight requests finish, then stop the workers. */
  async softStop(options: SoftStopOptions = {}): Promise<void> {
    if (this.#stopped) return;
    this.#stopping = true;
    for (const slot of this.#slots) slot.state = "STOPPING";
    const idleGraceMs = options.idleGraceMs ?? 0;
    await Promise.allSettled(
      this.#slots.map((slot) => this.#send(slot, { t: "soft_stop", idleGraceMs }, 0)),
    );
    this.#terminateAll();
  }

  /**
   * UPGRADE_WORKER: a fresh worker is fed the current state and binds every listener beside the
   * old one (SO_REUSEPORT; with `migrateQueued`, tcp_migrate_req moves the old one's accept queue
   * over when it closes), then the old one drains. Call it with no order in flight.
   */
  async upgradeWorker(
    id: number,
    options: WorkerUpgradeOptions,
  ): Promise<{ id: number; drained: Promise<void> }> {
    const old = this.#slots.find((s) => s.id === id && !s.retiring);
    if (!old || this.#stopping) throw new Error(`worker ${id} not found`);
    if (this.#options.migrateQueued) await enableTcpMigrateReq(this.#log);
    const fresh = this.#newSlot();
    this.#spawn(fresh);
    await fresh.ready;
    const orders = this.#options.currentOrders();
    const fed = await Promise.allSettled(
      orders.map((order) => this.#send(fresh, { t: "apply", order })),
    );
    const failed = fed.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) {
      await this.#retire(fresh, { drainTimeoutMs: 0 });
      throw new Error(`failed creating worker: ${failed.reason.message}`);
    }
    this.#log.info("proxy worker upgraded: draining the old one", { old: id, worker: fresh.id });
    return { id: fresh.id, drained: this.#retire(old, options) };
  }

  /** Soft-stops one worker (hard after `drainTimeoutMs`) and forgets it. */
  async #retire(slot: Slot, options: WorkerUpgradeOptions): Promise<void> {
    slot.retiring = true;
    slot.state = "STOPPING";
    const drained = this.#send(slot, { t: "soft_stop", idleGraceMs: options.idleGraceMs ?? 0 }, 0);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      drained.then(() => "done", () => "done"),
      new Promise((r) => timer = setTimeout(() => r("timeout"), options.drainTimeoutMs)),
    ]);
    clearTimeout(timer);
    if (outcome === "timeout") await this.#send(slot, { t: "hard_stop" }, 1000).catch(() => {});
    slot.generation++;
    slot.worker?.terminate();
    slot.worker = null;
    slot.state = "STOPPED";
    for (const p of slot.pending.values()) p.reject(new Error("the worker was replaced"));
    slot.pending.clear();
    this.#slots = this.#slots.filter((s) => s !== slot);
    this.#events.workerGone(slot.id);
  }

  #newSlot(): Slot {
    const slot: Slot = {
      id: this.#nextWorkerId++,
      worker: null,
      state: "RUNNING",
      pending: new Map(),
      ready: Promise.resolve(),
      generation: 0,
    };
    this.#slots.push(slot);
    return slot;
  }

  /** Drop everything now. */
  async hardStop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopping = true;
    for (const slot of this.#slots) slot.state = "STOPPING";
    await Promise.allSettled(
      // The worker closes its listeners before it answers; a loaded machine may take a while, and
      // a terminated worker can keep its sockets open for some time, so it is given 5 s.
      this.#slots.map((slot) => this.#send(slot, { t: "hard_stop" }, 5000)),
    );
    this.#terminateAll();
  }

  #terminateAll(): void {
    this.#stopped = true;
    for (const slot of this.#slots) {
      slot.worker?.terminate();
      slot.worker = null;
      slot.state = "STOPPED";
      for (const p of slot.pending.values()) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(new Error("the proxy stopped"));
      }
      slot.pending.clear();
    }
  }

  #spawn(slot: Slot): void {
    const worker = this.#spawnWorker(slot.id);
    const generation = ++slot.generation;
    slot.worker = worker;
    let readyResolve!: () => void;
    slot.ready = new Promise((resolve) => {
      readyResolve = resolve;
    });
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      if (slot.generation !== generation) return;
      const message = event.data;
      switch (message.t) {
        case "ready":
          readyResolve();
          return;
        case "done": {
          const p = slot.pending.get(message.seq);
          if (!p) return;
          slot.pending.delete(message.seq);
          if (p.timer) clearTimeout(p.timer);
          if (slot.state === "NOT_ANSWERING") slot.state = "RUNNING";
          if (message.error !== undefined) p.reject(new Error(message.error));
          else p.resolve(message.value);
          return;
        }
        case "event":
          this.#events.fromWorker(message.event, slot.id);
          return;
        case "log":
          this.#log[message.level](message.msg, { worker: slot.id, ...(message.fields ?? {}) });
          return;
      }
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      if (slot.generation !== generation) return;
      if (slot.retiring) {
        for (const p of slot.pending.values()) p.resolve(undefined);
        return slot.pending.clear();
      }
      this.#log.error("proxy worker crashed", { worker: slot.id, error: event.message });
      this.#replace(slot);
    };
    worker.onmessageerror = () => {
      this.#log.warn("undecodable message from a proxy worker", { worker: slot.id });
    };
    worker.postMessage(
      {
        t: "init",
        workerId: slot.id,
        reusePort: true,
        options: {
          ...this.#engine,
          ...(this.#options.tlsEngine ? { tlsEngine: this.#options.tlsEngine } : {}),
          ...(this.#options.directReads === false ? { directReads: false } : {}),
        },
      } satisfies ToWorker,
    );
  }

  /** Replaces a crashed or hung worker: new isolate, current state, then the pending orders. */
  #replace(slot: Slot): void {
    if (this.#stopped) return;
    try {
      slot.worker?.terminate();
    } catch {
      // already gone
    }
    const oldId = slot.id;
    this.#events.workerGone(oldId);
    slot.id = this.#nextWorkerId++;
    this.#spawn(slot);
    if (this.#stopping) {
      // A stop was in progress: the new worker stops too.
    }
    for (const order of this.#options.currentOrders()) {
      this.#post(slot, { t: "apply", seq: ++this.#seq, order });
    }
    for (const p of slot.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.timer = this.#armTimer(slot, p.message.seq, p.message.t === "soft_stop" ? 0 : undefined);
      this.#post(slot, p.message);
    }
    this.#log.info("proxy worker replaced", { old: oldId, worker: slot.id });
  }

  #post(slot: Slot, message: ToWorker): void {
    slot.worker?.postMessage(message);
  }

  #armTimer(
    slot: Slot,
    seq: number,
    timeoutMs = this.#orderTimeoutMs,
  ): ReturnType<typeof setTimeout> | null {
    if (timeoutMs <= 0) return null;
    return setTimeout(() => {
      const p = slot.pending.get(seq);
      if (!p) return;
      if (p.message.t === "hard_stop") {
        slot.pending.delete(seq);
        p.resolve(undefined);
        return;
      }
      // Caveat (Deno 2.9.6): terminate() stops a worker stuck in a JS loop but does not
      // release its sockets, so its listeners keep a share of new connections until the
      // process restarts. A crashed worker (uncaught error) releases everything.
      this.#log.error(
        "proxy worker not answering, replacing it; restart the agent to free its sockets",
        {
          worker: slot.id,
        },
      );
      slot.state = "NOT_ANSWERING";
      this.#replace(slot);
    }, timeoutMs);
  }

  #send(
    slot: Slot,
    message: DistributiveOmit<ToWorker, "seq">,
    timeoutMs?: number,
  ): Promise<unknown> {
    const seq = ++this.#seq;
    const full = { ...message, seq } as ToWorker & { seq: number };
    return new Promise((resolve, reject) => {
      const p: Pending = { message: full, resolve, reject, timer: null };
      slot.pending.set(seq, p);
      p.timer = this.#armTimer(slot, seq, timeoutMs);
      this.#post(slot, full);
    });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
