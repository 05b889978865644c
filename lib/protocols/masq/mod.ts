/**
 * The `[masq]` service: the MASQNode-UIv2 Daemon on 127.0.0.1 (setup, start, redirect, crashed)
 * and `polyagent masq-node`, the built-in Node it launches (`node/`); plus `polyagent ctl masq …`.
 *
 * The skeleton: `config.ts` (the section, the Daemon's document), `codes.ts` (error codes,
 * subprotocol), `codec.ts` (the envelope, u64-exact) and `schemas.ts` (payloads, known opcodes),
 * `handlers.ts` (the Daemon's and the Node's tables on core's `HandlerTable`), `errors.ts` (the one
 * mapper from neutral domain errors to wire errors), `server.ts` (the WebSocket listener) and
 * `connection.ts` (one peer), `service.ts` (lifecycle), `definition.ts` (wiring and the
 * `MasqBackends` interface), `ctl.ts` with `client.ts` (the command-line client), and the models
 * `daemon/` (the Daemon actor, the launch), `setup_model.ts` + `setup_params.ts` (the setup
 * cluster) and `node/` (the built-in Node).
 *
 * Life of a message: `server.ts` accepts the upgrade (subprotocol, Origin) → `connection.ts`
 * decodes the frame (`codec.ts`; a bad one is answered from `errors.ts`) → `Daemon.dispatch`
 * queues it → the table in `handlers.ts` checks the payload (`schemas.ts`) and runs `setup` or
 * `start` (launch through `backends/masq_node`), anything else is redirected to the Node or
 * refused → the reply is encoded and sent to the client; a thrown neutral error becomes the wire
 * error in `errors.ts`.
 *
 * @module
 */

export { MasqClient, type Outcome } from "./client.ts";
export { DEFAULT_UI_PORT, MasqErrorCode, NODE_UI_PROTOCOL } from "./codes.ts";
export { decodeMessage, encodeMessage, parseExactJson, stringifyExact } from "./codec.ts";
export { type MasqConfig, masqConfigSchema } from "./config.ts";
export { crashReason } from "./daemon/crash_reason.ts";
export { type MasqBackends, masqDefinition } from "./definition.ts";
export { masqErrorReply } from "./errors.ts";
export { type MasqHandler, type MasqRequest } from "./handlers.ts";
export { KNOWN_OPCODES } from "./schemas.ts";
export { type MasqTarget } from "./server.ts";
export { MasqService } from "./service.ts";
export { applySetup, censor, launchArguments, reportSetup } from "./setup_model.ts";
export { SETUP_PARAMS } from "./setup_params.ts";
