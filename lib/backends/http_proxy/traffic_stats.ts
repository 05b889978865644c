/**
 * Traffic metrics of one worker (sozu METRICS, admin /metrics): plain counters per proxy,
 * application and backend, bumped once per exchange when collection is on (no allocation per
 * request), and latency histograms (the buckets of backend_stats.ts) fed by the exchanges the
 * proxy already times on a sample. Percentiles are folded from the histograms only when the
 * figures are asked for, never per request.
 */
import { type BackendCounters, bucketLimitMs, bucketOf, BUCKETS } from "./backend_stats.ts";
import type { BackendTraffic, LatencyFigures, TrafficFigures, WorkerTraffic } from "./model.ts";
import type { RoutedBackend } from "./routing.ts";

const RANKS = [0.5, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1] as const;

/** Percentiles of a histogram (the upper bound of each rank's bucket), ms. */
export function latencyFigures(histogram: Uint32Array): LatencyFigures {
  let total = 0;
  for (let i = 0; i < BUCKETS; i++) total += histogram[i]!;
  const out = [0, 0, 0, 0, 0, 0, 0];
  if (total > 0) {
    let seen = 0;
    let r = 0;
    for (let i = 0; i < BUCKETS && r < RANKS.length; i++) {
      seen += histogram[i]!;
      while (r < RANKS.length && seen >= Math.ceil(total * RANKS[r]!)) out[r++] = bucketLimitMs(i);
    }
  }
  const [p50, p90, p99, p999, p9999, p99999, p100] = out as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { samples: total, p50, p90, p99, p999, p9999, p99999, p100 };
}

/** The counters of one scope (proxy, application or backend) in one worker. */
export class TrafficCounters {
  requests = 0;
  readonly statuses = new Float64Array(6);
  bytesIn = 0;
  bytesOut = 0;
  connections = 0;
  readonly responseTime = new Uint32Array(BUCKETS);
  readonly connectTime = new Uint32Array(BUCKETS);

  /** One finished exchange; `ms` < 0 when it was not timed. */
  record(status: number, bytesIn: number, bytesOut: number, ms: number): void {
    this.requests++;
    const cls = (status / 100) | 0;
    this.statuses[cls > 0 && cls < 6 ? cls : 0]!++;
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    if (ms >= 0) this.responseTime[bucketOf(ms)]!++;
  }

  /** A new backend connection took `ms` to open. */
  connected(ms: number): void {
    this.connections++;
    this.connectTime[bucketOf(ms)]!++;
  }

  clear(): void {
    this.requests =
      this.bytesIn =
      this.bytesOut =
      this.connections =
        0;
    this.statuses.fill(0);
    this.responseTime.fill(0);
    this.connectTime.fill(0);
  }

  figures(): TrafficFigures {
    return {
      requests: this.requests,
      statuses: [...this.statuses],
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      connections: this.connections,
      responseTime: latencyFigures(this.responseTime),
      connectTime: latencyFigures(this.connectTime),
    };
  }
}

/** Every traffic counter of one worker. */
export class TrafficMetrics {
  /** Collection on (CONFIGURE_METRICS ENABLED / DISABLED). */
  enabled: boolean;
  readonly proxy = new TrafficCounters();
  #clusters = new Map<string, TrafficCounters>();
  /** Keyed by the backend's live counters, which survive an update of its spec. */
  #backends = new Map<BackendCounters, TrafficCounters>();

  constructor(enabled = true) {
    this.enabled = enabled;
  }

  /** The counters of an application (made on first use). */
  cluster(id: string): TrafficCounters {
    let c = this.#clusters.get(id);
    if (c === undefined) this.#clusters.set(id, c = new TrafficCounters());
    return c;
  }

  /** The counters of a backend (made on first use). */
  backend(b: RoutedBackend): TrafficCounters {
    let c = this.#backends.get(b.counters);
    if (c === undefined) this.#backends.set(b.counters, c = new TrafficCounters());
    return c;
  }

  /** One finished exchange, in the proxy's, its application's and its backend's counters. */
  record(
    clusterId: string | null,
    backend: RoutedBackend | null,
    status: number,
    bytesIn: number,
    bytesOut: number,
    ms: number,
  ): void {
    this.proxy.record(status, bytesIn, bytesOut, ms);
    if (clusterId !== null) this.cluster(clusterId).record(status, bytesIn, bytesOut, ms);
    if (backend !== null) this.backend(backend).record(status, bytesIn, bytesOut, ms);
  }

  /** A new connection to `backend` took `ms` to open. */
  connected(backend: RoutedBackend, ms: number): void {
    this.proxy.connected(ms);
    this.cluster(backend.clusterId).connected(ms);
    this.backend(backend).connected(ms);
  }

  /** Forgets every figure (CONFIGURE_METRICS CLEAR). */
  clear(): void {
    this.proxy.clear();
    this.#clusters.clear();
    this.#backends.clear();
  }

  /**
   * The worker's figures. Backends and applications no longer configured are dropped here (not
   * on the exchange path).
   */
  snapshot(
    head: { workerId: number; accepted: number; sessions: number; closed?: Record<string, number> },
    backends: Iterable<RoutedBackend>,
    hasCluster: (id: string) => boolean,
  ): WorkerTraffic {
    const live = new Set<BackendCounters>();
    const list: BackendTraffic[] = [];
    for (const b of backends) {
      live.add(b.counters);
      const c = this.#backends.get(b.counters);
      if (c === undefined) continue;
      list.push({
        clusterId: b.clusterId,
        backendId: b.backendId,
        address: b.address,
        traffic: c.figures(),
      });
    }
    for (const key of this.#backends.keys()) if (!live.has(key)) this.#backends.delete(key);
    const applications: Record<string, TrafficFigures> = {};
    for (const [id, c] of this.#clusters) {
      if (!hasCluster(id)) this.#clusters.delete(id);
      else applications[id] = c.figures();
    }
    return {
      ...head,
      enabled: this.enabled,
      proxy: this.proxy.figures(),
      applications,
      backends: list,
    };
  }
}
