/**
 * The proxy's traffic figures in sozu's answer shapes: `METRICS` (0.13: `{main, workers: {id:
 * {proxy, applications: {app: {data, backends}}}}}`) and `QUERY` `METRICS` (0.14: per worker
 * `{type: "METRICS", data: {All: {proxy, clusters: {id: {cluster, backends}}}}}`, or `List`, or
 * `Error`, with the `cluster_ids` / `backend_ids` / `metric_names` filters). Every value is a
 * sozu `FilteredData` (`COUNT`, `GAUGE`, `PERCENTILES` in whole milliseconds, rounded up).
 */
import type {
  LatencyFigures,
  TrafficFigures,
  WorkerTraffic,
} from "../../backends/http_proxy/mod.ts";

/** sozu's FilteredData. */
export type FilteredData =
  | { type: "COUNT"; data: number }
  | { type: "GAUGE"; data: number }
  | {
    type: "PERCENTILES";
    data: {
      samples: number;
      p_50: number;
      p_90: number;
      p_99: number;
      p_99_9: number;
      p_99_99: number;
      p_99_999: number;
      p_100: number;
    };
  };

/** Metric name → value. */
export type MetricMap = Record<string, FilteredData>;

/** The QUERY METRICS options (sozu 0.14 `QueryMetricsOptions`). */
export interface MetricsQuery {
  list: boolean;
  cluster_ids: string[];
  backend_ids: string[];
  metric_names: string[];
}

/** Status class names, by index of {@linkcode TrafficFigures.statuses}. */
const CLASSES = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"] as const;

const count = (data: number): FilteredData => ({ type: "COUNT", data });

function percentiles(l: LatencyFigures): FilteredData {
  const ms = (v: number) => Math.ceil(v);
  return {
    type: "PERCENTILES",
    data: {
      samples: l.samples,
      p_50: ms(l.p50),
      p_90: ms(l.p90),
      p_99: ms(l.p99),
      p_99_9: ms(l.p999),
      p_99_99: ms(l.p9999),
      p_99_999: ms(l.p99999),
      p_100: ms(l.p100),
    },
  };
}

/** The metrics of one scope; `requests` names the request count ("http.requests" for the proxy). */
function scopeMetrics(f: TrafficFigures, requests: string): MetricMap {
  const out: MetricMap = { [requests]: count(f.requests) };
  for (let i = 1; i < CLASSES.length; i++) out[`http.status.${CLASSES[i]}`] = count(f.statuses[i]!);
  out["http.status.other"] = count(f.statuses[0]!);
  out.bytes_in = count(f.bytesIn);
  out.bytes_out = count(f.bytesOut);
  out.connections = count(f.connections);
  out.backend_response_time = percentiles(f.responseTime);
  out.backend_connection_time = percentiles(f.connectTime);
  return out;
}

/** A worker's proxy-level metrics. */
export function proxyMetrics(w: WorkerTraffic): MetricMap {
  return {
    ...scopeMetrics(w.proxy, "http.requests"),
    "client.connections": { type: "GAUGE", data: w.sessions },
    "client.accepted": count(w.accepted),
  };
}

/** Application-level (and backend-level) metrics. */
export function clusterMetrics(f: TrafficFigures): MetricMap {
  return scopeMetrics(f, "requests");
}

/** Backend id → metrics, per application id, of one worker. */
function backendsByCluster(w: WorkerTraffic): Map<string, Record<string, MetricMap>> {
  const out = new Map<string, Record<string, MetricMap>>();
  for (const b of w.backends) {
    let list = out.get(b.clusterId);
    if (!list) out.set(b.clusterId, list = {});
    list[b.backendId] = clusterMetrics(b.traffic);
  }
  return out;
}

/** The 0.13 METRICS answer's data. */
export function metricsAnswer(workers: readonly WorkerTraffic[]): {
  main: MetricMap;
  workers: Record<string, unknown>;
} {
  const out: Record<string, unknown> = {};
  for (const w of workers) {
    const backends = backendsByCluster(w);
    const applications: Record<string, unknown> = {};
    const ids = new Set([...Object.keys(w.applications), ...backends.keys()]);
    for (const id of [...ids].sort()) {
      const f = w.applications[id];
      applications[id] = {
        data: f ? clusterMetrics(f) : {},
        backends: backends.get(id) ?? {},
      };
    }
    out[String(w.workerId)] = { proxy: proxyMetrics(w), applications };
  }
  return { main: { workers: { type: "GAUGE", data: workers.length } }, workers: out };
}

function pick(map: MetricMap, names: readonly string[]): MetricMap {
  if (names.length === 0) return map;
  const out: MetricMap = {};
  for (const name of names) if (map[name] !== undefined) out[name] = map[name];
  return out;
}

/** Answers one worker's part of QUERY METRICS (sozu 0.14 `QueryAnswer::Metrics`). */
export function queryMetricsAnswer(
  w: WorkerTraffic,
  q: MetricsQuery,
): { type: "METRICS"; data: unknown } {
  const names = q.metric_names;
  const backends = backendsByCluster(w);
  const cluster = (id: string) => {
    const f = w.applications[id];
    return f ? pick(clusterMetrics(f), names) : null;
  };
  if (q.list) {
    const empty = { requests: 0, statuses: [0, 0, 0, 0, 0, 0], bytesIn: 0, bytesOut: 0 };
    const zero = { samples: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, p99999: 0, p100: 0 };
    const figures = { ...empty, connections: 0, responseTime: zero, connectTime: zero };
    return {
      type: "METRICS",
      data: {
        List: [Object.keys(proxyMetrics(w)), Object.keys(clusterMetrics(figures))],
      },
    };
  }
  const clusters: Record<string, unknown> = {};
  if (q.cluster_ids.length > 0) {
    for (const id of q.cluster_ids) {
      const data = cluster(id);
      if (data === null && !backends.has(id)) {
        return { type: "METRICS", data: { Error: `No metrics found for cluster with id ${id}` } };
      }
      const list: Record<string, MetricMap> = {};
      for (const [bid, m] of Object.entries(backends.get(id) ?? {})) list[bid] = pick(m, names);
      clusters[id] = { cluster: data ?? {}, backends: list };
    }
    return { type: "METRICS", data: { All: { proxy: null, clusters } } };
  }
  if (q.backend_ids.length > 0) {
    for (const bid of q.backend_ids) {
      const b = w.backends.find((x) => x.backendId === bid);
      if (!b) {
        return { type: "METRICS", data: { Error: `No metrics found for backend with id ${bid}` } };
      }
      clusters[b.clusterId] = {
        cluster: null,
        backends: { [bid]: pick(clusterMetrics(b.traffic), names) },
      };
    }
    return { type: "METRICS", data: { All: { proxy: null, clusters } } };
  }
  const ids = new Set([...Object.keys(w.applications), ...backends.keys()]);
  for (const id of [...ids].sort()) {
    const list: Record<string, MetricMap> = {};
    for (const [bid, m] of Object.entries(backends.get(id) ?? {})) list[bid] = pick(m, names);
    clusters[id] = { cluster: cluster(id) ?? {}, backends: list };
  }
  return { type: "METRICS", data: { All: { proxy: pick(proxyMetrics(w), names), clusters } } };
}
