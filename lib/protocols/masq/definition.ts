/**
 * The `[masq]` service definition: its config section, the backends it needs (one small
 * interface, {@linkcode MasqBackends}, so a test can pass a fake), and the Daemon, loaded only when
 * used, so an agent that does not run masq does not carry its code. The ctl client and the
 * built-in Node program are declared in `lib/services.ts`.
 */
import type { CommandRunner, ServiceDefinition } from "../../core/mod.ts";
import type { MasqNodeControl } from "../../backends/masq_node/mod.ts";
import type { MasqConfig } from "./config.ts";

/** What the masq service takes from the system (`lib/backends/masq_node`). */
export interface MasqBackends {
  /**
   * The host facts the setup defaults need: system DNS servers and the default `real-user`
   * (`uid:gid:home`; as root never root: the sudo user, `agentUser`, `polyagent` or `nobody`).
   */
  hostFacts(agentUser: string): { dnsServers: string[]; realUser: string };
  /** Why `realUser` cannot reach `dataRoot` (the folder in the way), or null; null unless root. */
  dataRootProblem(dataRoot: string, realUser: string): string | null;
  /** Who listens on TCP `port` (`"name" (pid N)`), or "" when unknown. */
  portHolder(port: number, runner: CommandRunner): Promise<string>;
  /** The argv prefix that runs this executable's `subcommand` (the built-in Node). */
  selfCommand(subcommand: string): string[];
  /** Launching and watching the Node, with process checks through `runner`. */
  nodeControl(runner: CommandRunner): MasqNodeControl;
}

/** The real backends, loaded on first use. */
async function masqBackends(): Promise<MasqBackends> {
  const node = await import("../../backends/masq_node/mod.ts");
  return {
    hostFacts: (agentUser) => ({
      dnsServers: node.systemDnsServers(),
      realUser: node.realUser(agentUser),
    }),
    dataRootProblem: node.dataRootProblem,
    portHolder: node.portHolder,
    selfCommand: node.selfCommand,
    nodeControl: node.masqNodeControl,
  };
}

/** The `[masq]` service definition. */
export const masqDefinition: ServiceDefinition<MasqConfig> = {
  name: "masq",
  summary: "MASQNode-UIv2 Daemon on localhost and the Node it launches",
  configSchema: async () => (await import("./config.ts")).masqConfigSchema(),
  create: async () => new (await import("./service.ts")).MasqService(await masqBackends()),
};
