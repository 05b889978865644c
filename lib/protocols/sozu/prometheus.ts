/**
 * The proxy's traffic figures as Prometheus text for the admin `/metrics` endpoint: the workers'
 * figures added up (counters summed; latency quantiles are the slowest worker's), labelled by
 * application and backend. Cardinality is bounded: once `maxSeries` application and backend
 * series are written, the series of further applications and backends are left out and counted in
 * `polyagent_sozu_metrics_series_dropped`.
 */
import type {
  LatencyFigures,
  TrafficFigures,
  WorkerTraffic,
} from "../../backends/http_proxy/mod.ts";

interface Family {
  type: "counter" | "gauge" | "summary";
  help: string;
  lines: string[];
}

const CLASSES = ["other", "1xx", "2xx", "3xx", "4xx", "5xx"] as const;
const QUANTILES: [string, keyof LatencyFigures][] = [["0.5", "p50"], ["0.9", "p90"], [
  "0.99",
  "p99",
]];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(pairs: [string, string][]): string {
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function zeroLatency(): LatencyFigures {
  return { samples: 0, p50: 0, p90: 0, p99: 0, p999: 0, p9999: 0, p99999: 0, p100: 0 };
}

function zeroTraffic(): TrafficFigures {
  return {
    requests: 0,
    statuses: [0, 0, 0, 0, 0, 0],
    bytesIn: 0,
    bytesOut: 0,
    connections: 0,
    responseTime: zeroLatency(),
    connectTime: zeroLatency(),
  };
}

function addLatency(into: LatencyFigures, from: LatencyFigures): void {
  into.samples += from.samples;
  for (const key of ["p50", "p90", "p99", "p999", "p9999", "p99999", "p100"] as const) {
    into[key] = Math.max(into[key], from[key]);
  }
}

function addTraffic(into: TrafficFigures, from: TrafficFigures): void {
  into.requests += from.requests;
  for (let i = 0; i < into.statuses.length; i++) into.statuses[i]! += from.statuses[i] ?? 0;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
  into.connections += from.connections;
  addLatency(into.responseTime, from.responseTime);
  addLatency(into.connectTime, from.connectTime);
}

/** Writes a scope's series into the families; returns how many it wrote. */
function scopeSeries(
  families: Map<string, Family>,
  prefix: string,
  base: [string, string][],
  f: TrafficFigures,
): number {
  let n = 0;
  const add = (name: string, type: Family["type"], help: string, l: string, v: number) => {
    const full = `${prefix}_${name}`;
    let family = families.get(full);
    if (!family) families.set(full, family = { type, help, lines: [] });
    family.lines.push(`${full}${l} ${v}`);
    n++;
  };
  add("requests_total", "counter", "Requests that ended.", labels(base), f.requests);
  for (let i = 0; i < CLASSES.length; i++) {
    const l = labels([...base, ["class", CLASSES[i]!]]);
    add("responses_total", "counter", "Responses by status class.", l, f.statuses[i]!);
  }
  add("bytes_in_total", "counter", "Request bytes read from clients.", labels(base), f.bytesIn);
  add("bytes_out_total", "counter", "Response bytes written to clients.", labels(base), f.bytesOut);
  add(
    "backend_connections_total",
    "counter",
    "Backend connections opened.",
    labels(base),
    f.connections,
  );
  for (
    const [name, help, l] of [
      ["response_seconds", "Backend response time (sampled exchanges).", f.responseTime],
      ["connect_seconds", "Backend connection time.", f.connectTime],
    ] as const
  ) {
    for (const [q, key] of QUANTILES) {
      add(name, "summary", help, labels([...base, ["quantile", q]]), l[key] / 1000);
    }
    add(`${name}_count`, "summary", help, labels(base), l.samples);
  }
  return n;
}

function render(families: Map<string, Family>): string {
  let out = "";
  for (const [name, f] of families) {
    if (name.endsWith("_count") && families.has(name.slice(0, -6))) continue;
    out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n${f.lines.join("\n")}\n`;
    const counted = families.get(`${name}_count`);
    if (f.type === "summary" && counted) out += `${counted.lines.join("\n")}\n`;
  }
  return out;
}

/** The workers' figures added up, per proxy, application and backend. */
function mergeWorkers(workers: readonly WorkerTraffic[]) {
  const proxy = zeroTraffic();
  const apps = new Map<string, TrafficFigures>();
  const backends = new Map<string, { app: string; backend: string; f: TrafficFigures }>();
  let sessions = 0;
  let accepted = 0;
  for (const w of workers) {
    sessions += w.sessions;
    accepted += w.accepted;
    addTraffic(proxy, w.proxy);
    for (const [id, f] of Object.entries(w.applications)) {
      let into = apps.get(id);
      if (!into) apps.set(id, into = zeroTraffic());
      addTraffic(into, f);
    }
    for (const b of w.backends) {
      const key = `${b.clusterId}\u0000${b.backendId}`;
      let into = backends.get(key);
      if (!into) {
        backends.set(key, into = { app: b.clusterId, backend: b.backendId, f: zeroTraffic() });
      }
      addTraffic(into.f, b.traffic);
    }
  }
  return { proxy, apps, backends, sessions, accepted };
}

/** The Prometheus text of the workers' figures. */
export function proxyPrometheus(
  workers: readonly WorkerTraffic[],
  options: { maxSeries: number; enabled: boolean },
): string {
  const { proxy, apps, backends, sessions, accepted } = mergeWorkers(workers);
  const families = new Map<string, Family>();
  scopeSeries(families, "polyagent_sozu_proxy", [], proxy);
  let written = 0;
  let dropped = 0;
  const perScope = scopeSeries(new Map(), "x", [], zeroTraffic());
  const scopes: [string, [string, string][], TrafficFigures][] = [
    ...[...apps].map(([id, f]) =>
      ["polyagent_sozu_application", [["application", id]], f] as [
        string,
        [string, string][],
        TrafficFigures,
      ]
    ),
    ...[...backends.values()].map((b) =>
      ["polyagent_sozu_backend", [["application", b.app], ["backend", b.backend]], b.f] as [
        string,
        [string, string][],
        TrafficFigures,
      ]
    ),
  ];
  for (const [prefix, base, f] of scopes) {
    if (written + perScope > options.maxSeries) {
      dropped += perScope;
      continue;
    }
    written += scopeSeries(families, prefix, base, f);
  }
  const gauge = (name: string, help: string, v: number) =>
    `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${v}\n`;
  return render(families) +
    gauge("polyagent_sozu_proxy_client_connections", "Client connections open.", sessions) +
    `# HELP polyagent_sozu_proxy_accepted_total Client connections accepted.\n` +
    `# TYPE polyagent_sozu_proxy_accepted_total counter\n` +
    `polyagent_sozu_proxy_accepted_total ${accepted}\n` +
    gauge(
      "polyagent_sozu_metrics_enabled",
      "1 while traffic metrics are collected.",
      options.enabled ? 1 : 0,
    ) +
    gauge(
      "polyagent_sozu_metrics_series_dropped",
      "Application and backend series left out by the series cap (sozu.metrics_max_series).",
      dropped,
    );
}
