/**
 * The `[admin]` service: GET /healthz (every enabled service's state, uptime and restarts; 503
 * when any is not running) and GET /metrics (Prometheus text) on a loopback address.
 *
 * @module
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import { type AdminConfig, adminConfigSchema } from "./config.ts";

export { createAdminApp } from "./app.ts";
export type { AdminSources } from "./app.ts";
export { renderMetrics } from "./metrics.ts";
export type { ProcessFigures } from "./metrics.ts";
export { type AdminConfig, adminConfigSchema } from "./config.ts";

/** The `[admin]` service definition. */
export const adminDefinition: ServiceDefinition<AdminConfig> = {
  name: "admin",
  summary: "health and Prometheus metrics over HTTP on loopback",
  configSchema: adminConfigSchema,
  enabledByDefault: true,
  create: async () => new (await import("./service.ts")).AdminService(),
};
