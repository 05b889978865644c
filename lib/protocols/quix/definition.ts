/**
 * The `[quix]` service definition: its config section, and the implementation and client loaded
 * only when used, so an agent that does not run quix does not carry its code.
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import type { QuixConfig } from "./config.ts";

/** The `[quix]` service definition. */
export const quixDefinition: ServiceDefinition<QuixConfig> = {
  name: "quix",
  summary: "dial-out Quix WSI backend agent: processes, telemetry, WireGuard",
  configSchema: async () => (await import("./config.ts")).quixConfigSchema(),
  create: async () => new (await import("./service.ts")).QuixService(),
};
