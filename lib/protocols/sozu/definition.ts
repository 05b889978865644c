/**
 * The `[sozu]` service definition: its config section, the backends the service is given (the
 * HTTP proxy's data plane and the saved-state files) and the service factory. The control plane
 * and both backends are loaded only when used, so an agent that does not run sozu does not carry
 * their code.
 */
import type { Logger, ServiceDefinition } from "../../core/mod.ts";
import type { DataPlane, DataPlaneOptions } from "../../backends/http_proxy/mod.ts";
import type {
  SozuStateFilesOptions,
  SozuStateFileStore,
} from "../../backends/sozu_state_files/mod.ts";
import type { SozuConfig } from "./config.ts";

/** Makes the data plane (the real one, or a recorder in tests). */
export type DataPlaneFactory = (options: DataPlaneOptions & { log: Logger }) => DataPlane;

/** Everything the sozu service reaches outside the process through; a test may pass fakes. */
export interface SozuBackends {
  /** Makes the data plane: the HTTP reverse proxy the orders configure. */
  createDataPlane: DataPlaneFactory;
  /** Opens the SAVE_STATE / LOAD_STATE files. */
  stateFiles(options: SozuStateFilesOptions): SozuStateFileStore;
}

/** The real backends, loaded on first use. */
export async function loadSozuBackends(): Promise<SozuBackends> {
  const [{ createDataPlane }, { SozuStateFiles }] = await Promise.all([
    import("../../backends/http_proxy/mod.ts"),
    import("../../backends/sozu_state_files/mod.ts"),
  ]);
  return { createDataPlane, stateFiles: (options) => new SozuStateFiles(options) };
}

/** The `[sozu]` service definition. */
export const sozuDefinition: ServiceDefinition<SozuConfig> = {
  name: "sozu",
  summary: "sozu command socket and the HTTP reverse proxy it drives",
  configSchema: async () => (await import("./config.ts")).sozuConfigSchema(),
  create: async () => {
    const [{ SozuService }, backends] = await Promise.all([
      import("./service.ts"),
      loadSozuBackends(),
    ]);
    return new SozuService(backends);
  },
};
