/**
 * The `[intervirt]` service definition: its config section, and the wiring of the service to its
 * backends (the configured runtime, LXC or Incus; the bridge; the nft table; the local images;
 * the host). Everything is loaded only when used, so an agent that does not run intervirt does
 * not carry its code, and only the configured runtime is loaded.
 */
import { isAbsolute, join } from "node:path";
import type { ServiceDefinition } from "../../core/mod.ts";
import type { IntervirtConfig } from "./config.ts";
import type {
  ContainerRuntime,
  IntervirtBackends,
  IntervirtBackendSetup,
} from "./containers/mod.ts";

/** A configured path, relative ones taken from the working directory. */
function absolute(path: string): string {
  return isAbsolute(path) ? path : join(Deno.cwd(), path);
}

/** The configured runtime, on the runner for short system tools. */
async function loadRuntime(
  setup: IntervirtBackendSetup,
  tools: IntervirtBackendSetup["runner"],
): Promise<ContainerRuntime> {
  if (setup.config.runtime === "incus") {
    const { IncusRuntime } = await import("../../backends/incus/mod.ts");
    return new IncusRuntime(tools, { workDir: join(setup.stateDir, "intervirt-work") });
  }
  const { LxcRuntime } = await import("../../backends/lxc/mod.ts");
  return new LxcRuntime(tools, { lxcPath: absolute(setup.config.lxc_path) });
}

/** Builds the real backends of a starting service. */
export async function loadIntervirtBackends(
  setup: IntervirtBackendSetup,
): Promise<IntervirtBackends> {
  const [host, bridge, netfilter] = await Promise.all([
    import("../../backends/intervirt_host/mod.ts"),
    import("../../backends/bridge/mod.ts"),
    import("../../backends/netfilter/mod.ts"),
  ]);
  const { config } = setup;
  const tools = host.systemToolRunner(setup.runner, config.tool_timeout_ms);
  return {
    runtime: await loadRuntime(setup, tools),
    bridge: new bridge.ContainerBridge(tools, {
      name: config.bridge,
      addresses: [config.bridge_ipv4, config.bridge_ipv6],
    }),
    netfilter: new netfilter.AgentNftTable(tools, config.nft_table, config.tool_timeout_ms),
    images: new host.ImageDirectory(
      config.images_dir ? absolute(config.images_dir) : join(setup.stateDir, "images"),
    ),
    host: new host.HostCommands(setup.runner),
  };
}

/** The `[intervirt]` service definition. */
export const intervirtDefinition: ServiceDefinition<IntervirtConfig> = {
  name: "intervirt",
  summary: "Intervirt container agent over WebSocket (LXC / Incus)",
  configSchema: async () => (await import("./config.ts")).intervirtConfigSchema(),
  create: async () => new (await import("./service.ts")).IntervirtService(loadIntervirtBackends),
};
