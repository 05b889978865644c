/**
 * The `[sozu]` service definition: its config section, and the control plane, the data plane and
 * the client loaded only when used, so an agent that does not run sozu does not carry its code.
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import type { SozuConfig } from "./config.ts";

/** The `[sozu]` service definition. */
export const sozuDefinition: ServiceDefinition<SozuConfig> = {
  name: "sozu",
  summary: "sozu command socket and the HTTP reverse proxy it drives",
  configSchema: async () => (await import("./config.ts")).sozuConfigSchema(),
  create: async () => {
    const [{ SozuService }, { createDataPlane }] = await Promise.all([
      import("./service.ts"),
      import("../../backends/http_proxy/mod.ts"),
    ]);
    return new SozuService(createDataPlane);
  },
};
