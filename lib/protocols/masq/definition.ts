/**
 * The `[masq]` service definition: its config section, and the Daemon, the client and the
 * built-in Node loaded only when used, so an agent that does not run masq does not carry its code.
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import type { MasqConfig } from "./config.ts";

/** The `[masq]` service definition. */
export const masqDefinition: ServiceDefinition<MasqConfig> = {
  name: "masq",
  summary: "MASQNode-UIv2 Daemon on localhost and the Node it launches",
  configSchema: async () => (await import("./config.ts")).masqConfigSchema(),
  create: async () => new (await import("./service.ts")).MasqService(),
};
