/**
 * The `[cryptoded]` service: the cryptoded OpenVPN control protocol on a Unix socket, driving real
 * openvpn processes through their management interface (see README "cryptoded").
 *
 * @module
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import { type CryptodedConfig, cryptodedConfigSchema } from "./config.ts";
import { registerCryptodeCtl } from "./ctl.ts";
import { CryptodedService } from "./service.ts";

export { Cmd, Resp, RESP_TEXT, respName } from "./codes.ts";
export { ClientError, request, sendRaw } from "./client.ts";
export { type CryptodedConfig, cryptodedConfigSchema } from "./config.ts";
export type { ConnectionStatus } from "./connections.ts";
export { JsonStreamParser } from "./stream_parser.ts";
export { CryptodedService } from "./service.ts";

/** The `[cryptoded]` service definition. */
export const cryptodedDefinition: ServiceDefinition<CryptodedConfig> = {
  name: "cryptoded",
  summary: "OpenVPN control daemon on a Unix socket (cryptoded protocol)",
  configSchema: cryptodedConfigSchema,
  create: () => new CryptodedService(),
  registerCtl: registerCryptodeCtl,
};
