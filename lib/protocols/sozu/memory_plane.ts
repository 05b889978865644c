/**
 * A data plane that only records orders: for pure-logic tests and for running the control plane
 * without proxying traffic.
 */
import type { DataPlane, ProxyOrder, WorkerInfo } from "../../backends/http_proxy/mod.ts";

/** A recording {@linkcode DataPlane}; `fail` lets tests make an order fail. */
export class MemoryDataPlane implements DataPlane {
  readonly orders: ProxyOrder[] = [];
  #workers: WorkerInfo[];
  fail: ((order: ProxyOrder) => Error | null) | null = null;

  constructor(workerCount = 1) {
    this.#workers = Array.from({ length: workerCount }, (_, id) => ({
      id,
      pid: Deno.pid,
      runState: "RUNNING" as const,
    }));
  }

  start(): Promise<void> {
    return Promise.resolve();
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
