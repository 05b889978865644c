/**
 * The `[quix]` service: dial-out Quix WSI backend agent: processes, telemetry, WireGuard.
 *
 * PLACEHOLDER: replaced by the protocol implementation (issue work in progress).
 *
 * @module
 */
import { flag, section, type ServiceDefinition } from "../../core/mod.ts";

const quixConfigSchema = section({
  enabled: flag().default(false),
});

/** The `[quix]` service definition. */
export const quixDefinition: ServiceDefinition<{ enabled: boolean }> = {
  name: "quix",
  summary: "dial-out Quix WSI backend agent: processes, telemetry, WireGuard",
  configSchema: quixConfigSchema,
  create: () => ({
    start: () => Promise.reject(new Error("the quix service is not implemented yet")),
    stop: () => Promise.resolve(),
  }),
};
