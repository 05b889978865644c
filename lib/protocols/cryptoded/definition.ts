/**
 * The `[cryptoded]` service definition: its config section, and the implementation and client
 * loaded only when used, so an agent that does not run cryptoded does not carry its code.
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import type { CryptodedConfig } from "./config.ts";

/** The `[cryptoded]` service definition. */
export const cryptodedDefinition: ServiceDefinition<CryptodedConfig> = {
  name: "cryptoded",
  summary: "OpenVPN control daemon on a Unix socket (cryptoded protocol)",
  configSchema: async () => (await import("./config.ts")).cryptodedConfigSchema(),
  create: async () => new (await import("./service.ts")).CryptodedService(),
};
