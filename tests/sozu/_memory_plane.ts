/** A data plane that only records orders, for control-plane tests that need no traffic. */
import type { DataPlane, ProxyOrder, WorkerInfo } from "../../lib/backends/http_proxy/mod.ts";

/** A recording {@linkcode DataPlane}; `fail` lets tests make an order fail. */
export class MemoryDataPlane implements DataPlane {
  readonly orders: ProxyOrder[] = [];
  #workers: WorkerInfo[];
  fail: ((order: ProxyOrder) => Error | null) | null = null;

  #currentOrders: () => ProxyOrder[];

  constructor(workerCount = 1, currentOrders: () => ProxyOrder[] = () => []) {
    this.#currentOrders = currentOrders;
    this.#workers = Array.from({ length: workerCount }, (_, id) => ({
      id,
      pid: Deno.pid,
      runState: "RUNNING" as const,
    }));
  }

  /** Feeds the current state, as the real data plane does. */
  async start(): Promise<void> {
    for (const order of this.#currentOrders()) await this.apply(order);
  }

  apply(order: ProxyOrder): Promise<void> {
    const error = this.fail?.(order) ?? null;
    if (error) return Promise.reject(error);
    this.orders.push(order);
    return Promise.resolve();
  }

  workers(): WorkerInfo[] {
    return this.#workers.map((w) => ({ ...w }));
  }

  softStop(): Promise<void> {
    for (const w of this.#workers) w.runState = "STOPPED";
    return Promise.resolve();
  }

  hardStop(): Promise<void> {
    return this.softStop();
  }
}
