/**
 * METRICS (0.13), CONFIGURE_METRICS (0.14) and LOGGING orders, and the METRICS variant of QUERY:
 * each asks the data plane (every worker) and answers in sozu's shapes (`metrics_answers.ts`).
 */
import { InvalidError, type Logger, UnavailableError } from "../../core/mod.ts";
import type { DataPlane, WorkerTraffic } from "../../backends/http_proxy/mod.ts";
import type { ControlPlane } from "./control_plane.ts";
import { metricsAnswer, type MetricsQuery, queryMetricsAnswer } from "./metrics_answers.ts";
import {
  type CommandResponse,
  configureMetricsInput,
  loggingInput,
  parseOrThrow,
  response,
  type SozuRequest,
} from "./schemas.ts";

/** What these handlers use. */
export interface MetricsHandlerEnvironment {
  control: ControlPlane;
  log: Logger;
}

type Handler = (request: SozuRequest) => Promise<CommandResponse>;

/** The workers' figures; `worker_id` keeps one worker's. */
async function workerFigures(plane: DataPlane, request: SozuRequest): Promise<WorkerTraffic[]> {
  if (!plane.metrics) throw new UnavailableError("this proxy keeps no metrics");
  const all = await plane.metrics();
  return request.workerId === null ? all : all.filter((w) => w.workerId === request.workerId);
}

/** QUERY METRICS: one answer per worker (sozu 0.14 shape); the main process adds none. */
export async function queryMetrics(
  control: ControlPlane,
  request: SozuRequest,
  options: MetricsQuery,
): Promise<CommandResponse> {
  const data: Record<string, unknown> = {};
  for (const w of await workerFigures(control.plane, request)) {
    data[String(w.workerId)] = queryMetricsAnswer(w, options);
  }
  return response(request.id, "OK", "", { type: "QUERY", data });
}

/** The METRICS order (0.13). */
export function metricsOrder(env: MetricsHandlerEnvironment): Handler {
  return async (request) => {
    const workers = await workerFigures(env.control.plane, request);
    return response(request.id, "OK", "", { type: "METRICS", data: metricsAnswer(workers) });
  };
}

/** CONFIGURE_METRICS: ENABLED / DISABLED / CLEARED on every worker. */
export function configureMetricsOrder(env: MetricsHandlerEnvironment): Handler {
  return async (request) => {
    const change = parseOrThrow(
      configureMetricsInput,
      request.payload,
      "CONFIGURE_METRICS",
      "data",
    );
    const plane = env.control.plane;
    if (!plane.configureMetrics) throw new UnavailableError("this proxy keeps no metrics");
    await plane.configureMetrics(change);
    env.log.info("metrics configured", { change });
    const done = { enable: "enabled", disable: "disabled", clear: "cleared" }[change];
    return response(request.id, "OK", `metrics ${done}`);
  };
}

/** LOGGING: the agent's log level and the level workers forward lines from. */
export function loggingOrder(env: MetricsHandlerEnvironment): Handler {
  return async (request) => {
    if (request.payload === undefined || request.payload === null) {
      throw new InvalidError('invalid LOGGING: data: expected a log filter such as "info"');
    }
    const level = parseOrThrow(loggingInput, request.payload, "LOGGING", "data");
    env.log.setLevel(level);
    await env.control.plane.setLogLevel?.(level);
    env.log.info("log level changed", { level, filter: request.payload });
    return response(request.id, "OK", `logging level set to ${level}`);
  };
}
