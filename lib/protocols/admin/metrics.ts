/** Prometheus text exposition of the agent's own figures. */
import type { ServiceStatus } from "../../core/mod.ts";

/** Process figures the admin endpoint adds to the service table. */
export interface AgentProcessFigures {
  rssBytes: number;
  /** V8 heap in use by the main isolate, when known. */
  heapUsedBytes?: number;
  openFds: number;
  loopLagSeconds: number;
  loopLagMaxSeconds: number;
  startTimeSeconds: number;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function family(name: string, type: string, help: string, samples: [string, number][]): string {
  let out = `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`;
  for (const [labels, value] of samples) out += `${name}${labels} ${value}\n`;
  return out;
}

/** Renders the exposition text. */
export function renderMetrics(
  statuses: readonly ServiceStatus[],
  process: AgentProcessFigures,
  extra = "",
): string {
  const enabled = statuses.filter((s) => s.enabled);
  const label = (s: ServiceStatus) => `{service="${escapeLabel(s.name)}"}`;
  return [
    family(
      "polyagent_service_up",
      "gauge",
      "1 when the service is running.",
      enabled.map((s) => [label(s), s.state === "running" ? 1 : 0]),
    ),
    family(
      "polyagent_service_restarts_total",
      "counter",
      "Restarts of the service since the agent started.",
      enabled.map((s) => [label(s), s.restarts]),
    ),
    family(
      "polyagent_service_start_time_seconds",
      "gauge",
      "Unix time of the service's last successful start.",
      enabled.map((s) => [label(s), s.startedAt === null ? 0 : s.startedAt / 1000]),
    ),
    family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [[
      "",
      process.rssBytes,
    ]]),
    family("process_open_fds", "gauge", "Number of open file descriptors.", [[
      "",
      process.openFds,
    ]]),
    process.heapUsedBytes === undefined ? "" : family(
      "polyagent_heap_used_bytes",
      "gauge",
      "V8 heap in use by the agent's main isolate, bytes.",
      [["", process.heapUsedBytes]],
    ),
    family("process_start_time_seconds", "gauge", "Start time of the process since unix epoch.", [[
      "",
      process.startTimeSeconds,
    ]]),
    family("polyagent_event_loop_lag_seconds", "gauge", "Latest measured event-loop lag.", [[
      "",
      process.loopLagSeconds,
    ]]),
    family("polyagent_event_loop_lag_max_seconds", "gauge", "Largest event-loop lag seen.", [[
      "",
      process.loopLagMaxSeconds,
    ]]),
  ].join("") + extra;
}
