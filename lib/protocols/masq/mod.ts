/**
 * The `[masq]` service: MASQNode-UIv2 Daemon on localhost and the Node it launches.
 *
 * PLACEHOLDER: replaced by the protocol implementation (issue work in progress).
 *
 * @module
 */
import { flag, section, type ServiceDefinition } from "../../core/mod.ts";

const masqConfigSchema = section({
  enabled: flag().default(false),
});

/** The `[masq]` service definition. */
export const masqDefinition: ServiceDefinition<{ enabled: boolean }> = {
  name: "masq",
  summary: "MASQNode-UIv2 Daemon on localhost and the Node it launches",
  configSchema: masqConfigSchema,
  create: () => ({
    start: () => Promise.reject(new Error("the masq service is not implemented yet")),
    stop: () => Promise.resolve(),
  }),
};
