/**
 * The main-process logic behind the socket: one serial queue in which every order is checked
 * against the {@linkcode ConfigState}, applied to the data plane and committed, and the durable
 * write that must finish before OK. Orders that can fail in the data plane (binding a listener)
 * are awaited inside the queue; the others are pipelined, so many orders in flight share one fsync
 * and one round trip to the workers.
 */
import type { DataPlane, ProxyOrder } from "../../backends/http_proxy/mod.ts";
import {
  errorText,
  FailedError,
  type JsonDocument,
  type Logger,
  UnavailableError,
} from "../../core/mod.ts";
import type { ConfigState, Plan, StateOrder } from "./state/mod.ts";

/** Options for {@linkcode ControlPlane}. */
export interface ControlPlaneOptions {
  state: ConfigState;
  plane: DataPlane;
  /** Where automatic state save writes; null when it is off. */
  document: JsonDocument<unknown> | null;
  log: Logger;
  /** Called when the data plane refused an order the state had accepted. */
  onDivergence: (error: unknown) => void;
  /** Called after each committed change. */
  onChange?: () => void;
}

/** What an applied order reports. */
export interface OrderOutcome {
  changed: boolean;
  message: string;
}

function mayFail(order: ProxyOrder): boolean {
  return order.op === "add_listener" || order.op === "activate_listener";
}

/** Serialises orders over one state and one data plane. */
export class ControlPlane {
  readonly state: ConfigState;
  readonly plane: DataPlane;
  #document: JsonDocument<unknown> | null;
  #log: Logger;
  #onDivergence: (error: unknown) => void;
  #onChange: () => void;
  #tail: Promise<unknown> = Promise.resolve();
  #closed: string | null = null;
  #snapshot: { toJSON(): unknown };
  #workerOnly = new Map<number, string[]>();

  constructor(options: ControlPlaneOptions) {
    this.state = options.state;
    this.plane = options.plane;
    this.#document = options.document;
    this.#log = options.log;
    this.#onDivergence = options.onDivergence;
    this.#onChange = options.onChange ?? (() => {});
    const state = this.state;
    this.#snapshot = { toJSON: () => state.toDocument() };
  }

  /** Refuses every later order with `reason` (the proxy is stopping). */
  close(reason: string): void {
    this.#closed ??= reason;
  }

  /** Runs `fn` alone: after every earlier queued job, before every later one. */
  serial<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.#tail.then(fn);
    this.#tail = run.catch(() => {});
    return run;
  }

  /**
   * Applies one order; resolves once the data plane has it and the state is durable. A function
   * is called inside the queue, so README-shaped orders see the listeners of earlier orders.
   * With `workerId` (sozu's `worker_id`) only that worker applies it, and the state is not changed.
   */
  async execute(
    order: StateOrder | (() => StateOrder),
    workerId: number | null = null,
  ): Promise<OrderOutcome> {
    if (workerId !== null) return await this.serial(() => this.#applyToWorker(order, workerId));
    const pending = await this.serial(() => this.#applyInQueue(order));
    await pending.done;
    return { changed: pending.plan.changed, message: pending.plan.message };
  }

  /**
   * Orders applied to one worker only, by worker id (worker ids of workers since replaced are
   * dropped: a replacement is fed the shared state).
   */
  workerOnlyOrders(): Map<number, string[]> {
    const live = new Set(this.plane.workers().map((w) => w.id));
    for (const id of this.#workerOnly.keys()) if (!live.has(id)) this.#workerOnly.delete(id);
    return this.#workerOnly;
  }

  /**
   * Inside the queue, an order for one worker: checked against the shared state, applied by that
   * worker alone, and NOT committed to the shared state (nor saved): the shared state stays what
   * every worker has in common, and the same order sent later without `worker_id` reaches every
   * worker (applying it twice is harmless). The worker keeps it until it is replaced.
   */
  async #applyToWorker(
    input: StateOrder | (() => StateOrder),
    workerId: number,
  ): Promise<OrderOutcome> {
    if (this.#closed !== null) throw new UnavailableError(this.#closed);
    const order = typeof input === "function" ? input() : input;
    const plan = this.state.plan(order);
    // Already in the shared state: sent again, as this worker may have had it removed alone.
    const proxy = plan.changed ? plan.proxy : this.state.resendOrders(order);
    if (proxy.length === 0) return { changed: false, message: "" };
    for (const p of proxy) {
      await this.plane.apply(p, workerId).catch((error) => {
        throw new FailedError(`${order.type}: ${errorText(error)}`, { cause: error });
      });
    }
    const list = this.#workerOnly.get(workerId) ?? [];
    list.push(order.type);
    this.#workerOnly.set(workerId, list);
    return {
      changed: true,
      message: `applied by worker ${workerId} only (not in the shared state)`,
    };
  }

  /** Inside the queue: plan, apply (or start applying), commit. */
  async #applyInQueue(
    input: StateOrder | (() => StateOrder),
  ): Promise<{ plan: Plan; done: Promise<void> }> {
    if (this.#closed !== null) throw new UnavailableError(this.#closed);
    const order = typeof input === "function" ? input() : input;
    const plan = this.state.plan(order);
    if (!plan.changed) return { plan, done: Promise.resolve() };
    const pipelined: Promise<void>[] = [];
    for (const p of plan.proxy) {
      if (mayFail(p)) {
        await this.plane.apply(p).catch((error) => {
          throw new FailedError(`${order.type}: ${errorText(error)}`, { cause: error });
        });
      } else {
        pipelined.push(this.plane.apply(p));
      }
    }
    plan.commit();
    if (plan.warning) this.#log.warn(plan.warning, { order: order.type });
    this.#onChange();
    const durable = this.persist();
    const applied = Promise.all(pipelined).then(() => {}, (error) => {
      this.#log.error("data plane refused an order the state accepted", {
        order: order.type,
        error,
      });
      this.#onDivergence(error);
      throw new FailedError(`${order.type}: the proxy could not apply it: ${errorText(error)}`);
    });
    return { plan, done: Promise.all([applied, durable]).then(() => {}) };
  }

  /** Writes the state durably (automatic state save); resolves at once when that is off. */
  persist(): Promise<void> {
    if (!this.#document) return Promise.resolve();
    return this.#document.write(this.#snapshot).catch((error) => {
      this.#log.error("automatic state save failed", { error });
      throw new FailedError(
        `the order is applied but the state could not be saved (it is saved with the next ` +
          `change that can be written): ${errorText(error)}`,
        { cause: error },
      );
    });
  }
}
