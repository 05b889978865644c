/**
 * The workers' traffic figures for admin /metrics, whose answer is built synchronously: asked
 * from the data plane once a second while someone reads them, and rendered as Prometheus text
 * from the last answer (at most a second old while scraped). Nobody scraping for 30 s stops the
 * asking (no worker round trip per second for figures no one reads); the next scrape then gets
 * the last figures and starts it again.
 */
import type { DataPlane, WorkerTraffic } from "../../backends/http_proxy/mod.ts";
import { proxyPrometheus } from "./prometheus.ts";

/** How long after the last scrape the figures keep being refreshed. */
const KEEP_FRESH_MS = 30_000;

/** Refreshes and renders the proxy's traffic figures. */
export class TrafficCache {
  #traffic: WorkerTraffic[] = [];
  #timer: ReturnType<typeof setInterval> | null = null;
  #plane: DataPlane | null = null;
  #lastAsked = 0;

  /** Starts asking `plane` once a second (no-op when it keeps no metrics). */
  start(plane: DataPlane, refreshMs = 1000): void {
    if (!plane.metrics || this.#timer !== null) return;
    this.#plane = plane;
    this.#lastAsked = performance.now();
    this.#refresh();
    this.#timer = setInterval(() => {
      if (performance.now() - this.#lastAsked < KEEP_FRESH_MS) this.#refresh();
    }, refreshMs);
    Deno.unrefTimer(this.#timer);
  }

  #refresh(): void {
    this.#plane?.metrics?.().then((t) => this.#traffic = t, () => {});
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#plane = null;
  }

  /** Prometheus text of the last figures ("" when not started). */
  prometheus(maxSeries: number): string {
    if (this.#timer === null) return "";
    const now = performance.now();
    if (now - this.#lastAsked >= KEEP_FRESH_MS) this.#refresh();
    this.#lastAsked = now;
    return proxyPrometheus(this.#traffic, {
      maxSeries,
      enabled: this.#traffic.some((w) => w.enabled),
    }) + closedSeries(this.#traffic);
  }
}

/**
 * `polyagent_sozu_proxy_closed_total{reason}`: client connections the proxy refused at accept
 * (max_connections, per_client) or closed by a timeout (head_timeout, idle_timeout,
 * client_timeout), summed over the workers; every reason is shown, 0 included.
 */
export function closedSeries(workers: readonly WorkerTraffic[]): string {
  const sums: Record<string, number> = {
    max_connections: 0,
    per_client: 0,
    head_timeout: 0,
    idle_timeout: 0,
    client_timeout: 0,
  };
  for (const w of workers) {
    for (const [reason, n] of Object.entries(w.closed ?? {})) {
      sums[reason] = (sums[reason] ?? 0) + n;
    }
  }
  let out = "# HELP polyagent_sozu_proxy_closed_total Client connections the proxy refused at " +
    "accept or closed by a timeout, by reason.\n# TYPE polyagent_sozu_proxy_closed_total counter\n";
  for (const [reason, n] of Object.entries(sums)) {
    out += `polyagent_sozu_proxy_closed_total{reason="${reason}"} ${n}\n`;
  }
  return out;
}
