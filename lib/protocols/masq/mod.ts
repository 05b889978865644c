/**
 * The `[masq]` service: the MASQNode-UIv2 Daemon on 127.0.0.1 (setup, start, redirect, crashed)
 * and `polyagent masq-node`, the built-in Node it launches; plus `polyagent ctl masq …`.
 *
 * @module
 */
import { CliExit, type ServiceDefinition } from "../../core/mod.ts";
import { type MasqConfig, masqConfigSchema } from "./config.ts";
import { registerMasqCtl } from "./ctl.ts";
import { runNode } from "./node_main.ts";
import { MasqService } from "./service.ts";

export { MasqClient, type Outcome } from "./client.ts";
export { DEFAULT_UI_PORT, ErrorCode, NODE_UI_PROTOCOL } from "./codes.ts";
export { type MasqConfig, masqConfigSchema } from "./config.ts";
export { crashReason } from "./crash_reason.ts";
export { decodeMessage, encodeMessage, parseExactJson, stringifyExact } from "./envelope.ts";
export { applySetup, censor, launchArguments, reportSetup } from "./setup_model.ts";
export { SETUP_PARAMS } from "./setup_params.ts";
export { MasqService } from "./service.ts";

/** The `[masq]` service definition. */
export const masqDefinition: ServiceDefinition<MasqConfig> = {
  name: "masq",
  summary: "MASQNode-UIv2 Daemon on localhost and the Node it launches",
  configSchema: masqConfigSchema,
  create: () => new MasqService(),
  registerCtl: registerMasqCtl,
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
        const code = await runNode(args);
        if (code !== 0) throw new CliExit("", code);
      });
  },
};
