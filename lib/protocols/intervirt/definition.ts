/**
 * The `[intervirt]` service definition: its config section, and the implementation and client
 * loaded only when used, so an agent that does not run intervirt does not carry its code.
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import type { IntervirtConfig } from "./config.ts";

/** The `[intervirt]` service definition. */
export const intervirtDefinition: ServiceDefinition<IntervirtConfig> = {
  name: "intervirt",
  summary: "Intervirt container agent over WebSocket (LXC / Incus)",
  configSchema: async () => (await import("./config.ts")).intervirtConfigSchema(),
  create: async () => new (await import("./service.ts")).IntervirtService(),
};
