/** The `[admin]` service definition: its config section and the HTTP service, loaded when used. */
import type { ServiceDefinition } from "../../core/mod.ts";
import { type AdminConfig, adminConfigSchema } from "./config.ts";

/** The `[admin]` service definition. */
export const adminDefinition: ServiceDefinition<AdminConfig> = {
  name: "admin",
  summary: "health, Prometheus metrics and a status page over HTTP on loopback",
  configSchema: adminConfigSchema,
  enabledByDefault: true,
  create: async () => new (await import("./service.ts")).AdminService(),
};
