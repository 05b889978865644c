/**
 * The `[masq]` service definition: its config section, and the Daemon, the client and the
 * built-in Node loaded only when used, so an agent that does not run masq does not carry its code.
 */
import { CliExit, type ServiceDefinition } from "../../core/mod.ts";
import type { MasqConfig } from "./config.ts";

/** The `[masq]` service definition. */
export const masqDefinition: ServiceDefinition<MasqConfig> = {
  name: "masq",
  summary: "MASQNode-UIv2 Daemon on localhost and the Node it launches",
  configSchema: async () => (await import("./config.ts")).masqConfigSchema(),
  create: async () => new (await import("./service.ts")).MasqService(),
  registerCtl: async (ctl, env) => (await import("./ctl.ts")).registerMasqCtl(ctl, env),
  registerCommands(program) {
    program.command("masq-node")
      .description(
        "run the built-in MASQ Node (the Daemon launches it): --name value … --ui-port N",
      )
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .argument("[args...]", "--name value pairs")
      .action(async (args: string[]) => {
        const code = await (await import("./node_main.ts")).runNode(args);
        if (code !== 0) throw new CliExit("", code);
      });
  },
};
