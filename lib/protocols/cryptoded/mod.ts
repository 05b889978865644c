/**
 * The `[cryptoded]` service: the cryptoded OpenVPN control protocol on a Unix socket, driving real
 * openvpn processes through their management interface (see README "cryptoded").
 *
 * @module
 */

export { Cmd, Resp, RESP_TEXT, respName } from "./codes.ts";
export { ClientError, request, sendRaw } from "./client.ts";
export { type CryptodedConfig, cryptodedConfigSchema } from "./config.ts";
export type { ConnectionStatus } from "./connections.ts";
export { JsonStreamParser } from "./stream_parser.ts";
export { CryptodedService } from "./service.ts";
export { cryptodedDefinition } from "./definition.ts";
