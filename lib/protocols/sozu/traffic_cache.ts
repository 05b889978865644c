/**
 * The workers' traffic figures for admin /metrics, whose answer is built synchronously: asked
 * from the data plane once a second while the proxy runs, and rendered as Prometheus text from
 * the last answer (at most a second old).
 */
import type { DataPlane, WorkerTraffic } from "../../backends/http_proxy/mod.ts";
import { proxyPrometheus } from "./prometheus.ts";

/** Refreshes and renders the proxy's traffic figures. */
export class TrafficCache {
  #traffic: WorkerTraffic[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;

  /** Starts asking `plane` once a second (no-op when it keeps no metrics). */
  start(plane: DataPlane, refreshMs = 1000): void {
    if (!plane.metrics || this.#timer !== null) return;
    const refresh = () => {
      plane.metrics!().then((t) => this.#traffic = t, () => {});
    };
    refresh();
    this.#timer = setInterval(refresh, refreshMs);
    Deno.unrefTimer(this.#timer);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Prometheus text of the last figures ("" when not started). */
  prometheus(maxSeries: number): string {
    if (this.#timer === null) return "";
    return proxyPrometheus(this.#traffic, {
      maxSeries,
      enabled: this.#traffic.some((w) => w.enabled),
    });
  }
}
