/**
 * The `[cryptoded]` service: the cryptoded OpenVPN control protocol on a Unix socket, driving real
 * openvpn processes through their management interface (see README "cryptoded").
 *
 * The skeleton, and the life of a request:
 * 1. `server.ts` accepts on the socket and identifies the peer (backends, peercred);
 * 2. `connection.ts` reads the peer's bytes, splits them into requests (`stream_parser.ts`) and
 *    decodes each against `schemas.ts` (command codes, request and parameter schemas);
 * 3. `handlers.ts` (command code → handler, on core's `HandlerTable`) checks privilege and calls
 *    the domain: `tunnels/` (connections, their openvpn tunnels, IMPORT) or `dns_override.ts`;
 * 4. the domain reaches the system only through `CryptodedBackends` (`backends.ts`), built in
 *    `definition.ts`, and throws neutral errors;
 * 5. `errors.ts` maps any error to a response code (`codes.ts`) and encodes the reply as JSON or
 *    the real daemon's plain text (`status_text.ts` for STATUS).
 *
 * `config.ts` is the section, `service.ts` the lifecycle, `ctl.ts` and `client.ts` the client.
 *
 * @module
 */

export { Resp, RESP_TEXT, respName } from "./codes.ts";
export { Cmd } from "./schemas.ts";
export { ClientError, request, sendRaw } from "./client.ts";
export { type CryptodedConfig, cryptodedConfigSchema } from "./config.ts";
export type { CryptodedBackends } from "./backends.ts";
export type { ConnectionStatus } from "./tunnels/mod.ts";
export { JsonStreamParser } from "./stream_parser.ts";
export { CryptodedService } from "./service.ts";
export { cryptodedDefinition } from "./definition.ts";
