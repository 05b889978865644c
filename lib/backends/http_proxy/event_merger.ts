/**
 * Merges the backend events of the proxy workers into sozu's per-backend semantics. Each worker
 * keeps its own health per backend, so N workers see one backend die N times; the main isolate
 * sends one event per change instead:
 * - BACKEND_DOWN when the first worker declares the backend down, BACKEND_UP when the first one
 *   connects to it again (later workers' same verdicts are dropped);
 * - NO_AVAILABLE_BACKENDS once per cluster until some worker connects to one of its backends;
 * - REMOVED_BACKEND_HAS_NO_CONNECTIONS once every worker that got the REMOVE_BACKEND has let go
 *   of its last connection to it.
 */
import type { ProxyEvent } from "./model.ts";
import type { RoutingEvent } from "./routing.ts";

function backendKey(clusterId: string, backendId: string, address: string): string {
  return `${clusterId}\u0000${backendId}\u0000${address}`;
}

/** One data plane's event merger. */
export class EventMerger {
  #emit: (event: ProxyEvent) => void;
  #down = new Set<string>();
  #unavailable = new Set<string>();
  /** Removed backends → the workers still holding a connection to them. */
  #removals = new Map<string, Set<number>>();

  constructor(emit: (event: ProxyEvent) => void) {
    this.#emit = emit;
  }

  /** A REMOVE_BACKEND goes to these workers: wait for each one's "no connections". */
  removing(clusterId: string, backendId: string, address: string, workers: number[]): void {
    const key = backendKey(clusterId, backendId, address);
    this.#down.delete(key);
    this.#removals.set(key, new Set(workers));
  }

  /** A worker is gone (crashed, replaced, retired): it holds no connection any more. */
  workerGone(workerId: number): void {
    for (const [key, waiting] of this.#removals) {
      if (waiting.delete(workerId) && waiting.size === 0) this.#removed(key, workerId);
    }
  }

  /** An event from worker `workerId`. */
  fromWorker(event: RoutingEvent, workerId: number): void {
    switch (event.type) {
      case "CLUSTER_AVAILABLE":
        this.#unavailable.delete(event.clusterId);
        return;
      case "NO_AVAILABLE_BACKENDS":
        if (this.#unavailable.has(event.clusterId)) return;
        this.#unavailable.add(event.clusterId);
        return this.#emit({ ...event, workerId });
      case "BACKEND_DOWN":
      case "BACKEND_UP": {
        const key = backendKey(event.clusterId, event.backendId, event.address);
        const down = event.type === "BACKEND_DOWN";
        if (this.#down.has(key) === down) return;
        if (down) this.#down.add(key);
        else this.#down.delete(key);
        return this.#emit({ ...event, workerId });
      }
      case "REMOVED_BACKEND_HAS_NO_CONNECTIONS": {
        const key = backendKey(event.clusterId, event.backendId, event.address);
        const waiting = this.#removals.get(key);
        if (waiting?.delete(workerId) && waiting.size === 0) this.#removed(key, workerId);
        return;
      }
    }
  }

  #removed(key: string, workerId: number): void {
    this.#removals.delete(key);
    const [clusterId, backendId, address] = key.split("\u0000") as [string, string, string];
    this.#emit({
      type: "REMOVED_BACKEND_HAS_NO_CONNECTIONS",
      clusterId,
      backendId,
      address,
      workerId,
    });
  }
}
