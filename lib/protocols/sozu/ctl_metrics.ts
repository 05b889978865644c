/**
 * `polyagent ctl sozu metrics get|enable|disable|clear` and `ctl sozu logging <filter>`, as sozu's
 * own CLI has them: QUERY METRICS printed one figure a line (`worker  scope  name  value`, a
 * percentile as its samples and p50/p90/p99/p100 in ms), CONFIGURE_METRICS and LOGGING.
 */
import type { Command } from "commander";
import type { CtlEnvironment } from "../../core/mod.ts";
import { proxyOrder, type RequestBody } from "./client.ts";
import type { FilteredData, MetricMap } from "./metrics_answers.ts";
import type { CommandResponse } from "./schemas.ts";

/** What these commands need from `ctl sozu`'s caller. */
export interface MetricsCtlCaller {
  call(
    bodies: RequestBody[],
    show?: (reply: CommandResponse) => void,
  ): Promise<CommandResponse[]>;
}

type ClusterAnswer = { cluster: MetricMap | null; backends: Record<string, MetricMap> | null };
type WorkerAnswer = {
  All?: { proxy: MetricMap | null; clusters: Record<string, ClusterAnswer> | null };
  List?: [string[], string[]];
  Error?: string;
};

function value(d: FilteredData): string {
  if (d.type !== "PERCENTILES") return String(d.data);
  const p = d.data;
  return `samples=${p.samples} p50=${p.p_50} p90=${p.p_90} p99=${p.p_99} p100=${p.p_100}`;
}

/** The lines of one worker's QUERY METRICS answer. */
export function metricsLines(worker: string, answer: WorkerAnswer): string[] {
  if (answer.Error !== undefined) return [`${worker}\terror\t${answer.Error}`];
  if (answer.List) {
    return [
      ...answer.List[0].map((n) => `${worker}\tproxy\t${n}`),
      ...answer.List[1].map((n) => `${worker}\tapplication\t${n}`),
    ];
  }
  const out: string[] = [];
  const add = (scope: string, map: MetricMap | null) => {
    for (const [name, d] of Object.entries(map ?? {})) {
      out.push(`${worker}\t${scope}\t${name}\t${value(d)}`);
    }
  };
  add("proxy", answer.All?.proxy ?? null);
  for (const [id, c] of Object.entries(answer.All?.clusters ?? {})) {
    add(`app=${id}`, c.cluster);
    for (const [bid, m] of Object.entries(c.backends ?? {})) add(`app=${id} backend=${bid}`, m);
  }
  return out;
}

const collect = (v: string, list: string[]) => [...list, v];

/** Registers `metrics …` and `logging` under `ctl sozu`. */
export function registerMetricsCommands(
  sozu: Command,
  caller: MetricsCtlCaller,
  env: CtlEnvironment,
): void {
  const metrics = sozu.command("metrics").description("proxy traffic metrics");
  metrics.command("get").description("per proxy, application and backend figures")
    .option("--app <id>", "only this application (repeatable)", collect, [])
    .option("--backend <id>", "only this backend (repeatable)", collect, [])
    .option("--name <metric>", "only this metric (repeatable)", collect, [])
    .option("--list", "list the metric names")
    .action(async (o: { app: string[]; backend: string[]; name: string[]; list?: boolean }) => {
      const data = {
        list: !!o.list,
        cluster_ids: o.app,
        backend_ids: o.backend,
        metric_names: o.name,
      };
      await caller.call([proxyOrder("QUERY", { type: "METRICS", data })], (r) => {
        const workers = (r.data?.data ?? {}) as Record<string, { data: WorkerAnswer }>;
        for (const [id, w] of Object.entries(workers)) {
          for (const line of metricsLines(id, w.data)) env.print(line);
        }
      });
    });
  for (
    const [name, change, help] of [
      ["enable", "ENABLED", "collect metrics"],
      ["disable", "DISABLED", "stop collecting (figures kept)"],
      ["clear", "CLEARED", "forget every figure"],
    ] as const
  ) {
    metrics.command(name).description(help).action(async () => {
      await caller.call([proxyOrder("CONFIGURE_METRICS", change)]);
    });
  }
  sozu.command("logging").argument("<filter>", 'log level or env-logger filter ("debug")')
    .description("change the agent's log level now")
    .action(async (filter: string) => {
      await caller.call([proxyOrder("LOGGING", filter)]);
    });
}
