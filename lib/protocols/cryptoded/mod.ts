/**
 * The `[cryptoded]` service: OpenVPN control daemon on a Unix socket (cryptoded protocol).
 *
 * PLACEHOLDER: replaced by the protocol implementation (issue work in progress).
 *
 * @module
 */
import { flag, section, type ServiceDefinition } from "../../core/mod.ts";

const cryptodedConfigSchema = section({
  enabled: flag().default(false),
});

/** The `[cryptoded]` service definition. */
export const cryptodedDefinition: ServiceDefinition<{ enabled: boolean }> = {
  name: "cryptoded",
  summary: "OpenVPN control daemon on a Unix socket (cryptoded protocol)",
  configSchema: cryptodedConfigSchema,
  create: () => ({
    start: () => Promise.reject(new Error("the cryptoded service is not implemented yet")),
    stop: () => Promise.resolve(),
  }),
};
