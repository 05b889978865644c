/**
 * The `[quix]` service definition: its config section, the backends the service uses
 * ({@linkcode QuixBackends}), and the implementation and backends loaded only when the service is
 * created, so an agent that does not run quix does not carry their code.
 */
import type { Account, CommandRunner, ServiceDefinition } from "../../core/mod.ts";
import type {
  ProcessSupervisor,
  ProcessSupervisorOptions,
  ProcReader,
} from "../../backends/processes/mod.ts";
import type { QuixCredentials, QuixCredentialSource } from "../../backends/quix_credentials/mod.ts";
import type { HostFiguresOptions, HostSnapshot } from "../../backends/telemetry/mod.ts";
import type { WireguardManager, WireguardManagerOptions } from "../../backends/wireguard/mod.ts";
import type { QuixConfig } from "./config.ts";

/** The process supervisor, as the quix service uses it. */
export type QuixProcesses = Pick<
  ProcessSupervisor,
  "open" | "close" | "running" | "records" | "findByRequest" | "start" | "signal" | "sample"
>;

/** The WireGuard tunnel, as the quix service uses it. */
export type QuixTunnel = Pick<WireguardManager, "open" | "apply" | "isLive" | "status">;

/** Everything the quix service takes from the system; a test can pass fakes. */
export interface QuixBackends {
  /** The password (inline or the first line of `password_file`) and a client trusting `ca_file`. */
  readCredentials(source: QuixCredentialSource): Promise<QuixCredentials>;
  /**
   * The account processes run as: null when the agent is not root, else `runAs`, else
   * `agent.user`, the `polyagent` account or `nobody` (TypeError for an unknown name).
   */
  runAsAccount(runAs: string, agentUser: string): Account | null;
  /** Creates the work folder and hands it to `account`; ForbiddenError when it cannot reach it. */
  prepareWorkDir(dir: string, account: Account | null): Promise<void>;
  /** Batch reads of /proc through the runner's helper processes. */
  procReader(runner: CommandRunner): ProcReader;
  /** The supervisor of the processes `execute` starts. */
  processes(options: ProcessSupervisorOptions): QuixProcesses;
  /** Per-core CPU busy fractions. */
  cpu(): { read(): number[] };
  /** Cached memory and disk figures. */
  host(options: HostFiguresOptions): { get(): Promise<HostSnapshot> };
  /** The WireGuard tunnel the server configures. */
  tunnel(options: WireguardManagerOptions): QuixTunnel;
  /** The first IPv4 and IPv6 address of an interface of this namespace. */
  interfaceAddresses(ifname: string): { ip4: string; ip6: string };
  /** The first tun/tap device (an OpenVPN tunnel), or null. */
  findTunDevice(): string | null;
}

/** The real backends, loaded on first use. */
export async function loadQuixBackends(): Promise<QuixBackends> {
  const [processes, credentials, telemetry, wireguard] = await Promise.all([
    import("../../backends/processes/mod.ts"),
    import("../../backends/quix_credentials/mod.ts"),
    import("../../backends/telemetry/mod.ts"),
    import("../../backends/wireguard/mod.ts"),
  ]);
  return {
    readCredentials: credentials.readQuixCredentials,
    runAsAccount: processes.runAsAccount,
    prepareWorkDir: processes.prepareWorkDir,
    procReader: (runner) => processes.helperReader(runner),
    processes: (options) => new processes.ProcessSupervisor(options),
    cpu: () => new telemetry.CpuSampler(),
    host: (options) => new telemetry.HostFigures(options),
    tunnel: (options) => new wireguard.WireguardManager(options),
    interfaceAddresses: telemetry.interfaceAddresses,
    findTunDevice: telemetry.findTunDevice,
  };
}

/** The `[quix]` service definition. */
export const quixDefinition: ServiceDefinition<QuixConfig> = {
  name: "quix",
  summary: "dial-out Quix WSI backend agent: processes, telemetry, WireGuard",
  configSchema: async () => (await import("./config.ts")).quixConfigSchema(),
  create: async () => {
    const [{ QuixService }, backends] = await Promise.all([
      import("./service.ts"),
      loadQuixBackends(),
    ]);
    return new QuixService(backends);
  },
};
