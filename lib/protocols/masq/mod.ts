/**
 * The `[masq]` service: the MASQNode-UIv2 Daemon on 127.0.0.1 (setup, start, redirect, crashed)
 * and `polyagent masq-node`, the built-in Node it launches; plus `polyagent ctl masq …`.
 *
 * @module
 */

export { MasqClient, type Outcome } from "./client.ts";
export { DEFAULT_UI_PORT, ErrorCode, NODE_UI_PROTOCOL } from "./codes.ts";
export { type MasqConfig, masqConfigSchema } from "./config.ts";
export { crashReason } from "./crash_reason.ts";
export { decodeMessage, encodeMessage, parseExactJson, stringifyExact } from "./envelope.ts";
export { applySetup, censor, launchArguments, reportSetup } from "./setup_model.ts";
export { SETUP_PARAMS } from "./setup_params.ts";
export { MasqService } from "./service.ts";
export { masqDefinition } from "./definition.ts";
