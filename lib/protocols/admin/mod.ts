/**
 * The `[admin]` service: GET /healthz (every enabled service's state, uptime and restarts; 503
 * when any is not running), GET /metrics (Prometheus text) and the status page (`/status`, see
 * `status/`) on a loopback address.
 *
 * @module
 */
export { createAdminApp } from "./app.ts";
export type { AdminSources } from "./app.ts";
export { renderMetrics } from "./metrics.ts";
export type { AgentProcessFigures } from "./metrics.ts";
export { type AdminConfig, adminConfigSchema } from "./config.ts";

export { adminDefinition } from "./definition.ts";
