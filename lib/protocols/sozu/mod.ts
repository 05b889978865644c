/**
 * The `[sozu]` service: sozu command socket and the HTTP reverse proxy it drives.
 *
 * PLACEHOLDER: replaced by the protocol implementation (issue work in progress).
 *
 * @module
 */
import { flag, section, type ServiceDefinition } from "../../core/mod.ts";

const sozuConfigSchema = section({
  enabled: flag().default(false),
});

/** The `[sozu]` service definition. */
export const sozuDefinition: ServiceDefinition<{ enabled: boolean }> = {
  name: "sozu",
  summary: "sozu command socket and the HTTP reverse proxy it drives",
  configSchema: sozuConfigSchema,
  create: () => ({
    start: () => Promise.reject(new Error("the sozu service is not implemented yet")),
    stop: () => Promise.resolve(),
  }),
};
