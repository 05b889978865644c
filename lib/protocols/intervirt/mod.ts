/**
 * The `[intervirt]` service: Intervirt container agent over WebSocket (LXC / Incus).
 *
 * PLACEHOLDER: replaced by the protocol implementation (issue work in progress).
 *
 * @module
 */
import { flag, section, type ServiceDefinition } from "../../core/mod.ts";

const intervirtConfigSchema = section({
  enabled: flag().default(false),
});

/** The `[intervirt]` service definition. */
export const intervirtDefinition: ServiceDefinition<{ enabled: boolean }> = {
  name: "intervirt",
  summary: "Intervirt container agent over WebSocket (LXC / Incus)",
  configSchema: intervirtConfigSchema,
  create: () => ({
    start: () => Promise.reject(new Error("the intervirt service is not implemented yet")),
    stop: () => Promise.resolve(),
  }),
};
