/**
 * The `[cryptoded]` service: the cryptoded OpenVPN control protocol on Unix sockets, in two wire
 * dialects (one per socket: the document's numbering for `rvc`, cryptode v1.x's for `cryptode`),
 * driving real openvpn processes through their management interface (see README "cryptoded").
 *
 * The skeleton, and the life of a request:
 * 1. `server.ts` accepts on one socket and identifies the peer (backends, peercred);
 * 2. `connection.ts` reads the peer's bytes, splits them into requests (`stream_parser.ts`) and
 *    decodes each against `schemas.ts` (command codes of both dialects, request and parameter
 *    schemas);
 * 3. `handlers.ts` (the socket's dialect: command code → handler, on core's `HandlerTable`)
 *    checks privilege and calls the domain: `tunnels/` (connections, their openvpn tunnels,
 *    IMPORT, EDIT) or `dns_override.ts`;
 * 4. the domain reaches the system only through `CryptodedBackends` (`backends.ts`), built in
 *    `definition.ts`, and throws neutral errors;
 * 5. `errors.ts` maps any error to a response (`codes.ts`); `dialect.ts` writes the reply in the
 *    socket's dialect, as json-c text (`jsonc.ts`) or plain text, with STATUS shaped by
 *    `status_doc.ts` or `status_v1.ts`.
 *
 * `config.ts` is the section, `service.ts` the lifecycle (and SIGUSR1), `ctl.ts` and `client.ts`
 * the client.
 *
 * @module
 */

export { Resp, RESP_TEXT, respName, V1Resp } from "./codes.ts";
export { Cmd, V1Cmd } from "./schemas.ts";
export { type CryptodedDialect, documentDialect, v1Dialect } from "./dialect.ts";
export { jsoncText } from "./jsonc.ts";
export { type ConnectionStatus, documentStatus, documentStatusText } from "./status_doc.ts";
export { v1Status, v1StatusText } from "./status_v1.ts";
export { ClientError, request, sendRaw } from "./client.ts";
export { type CryptodedConfig, cryptodedConfigSchema } from "./config.ts";
export type { CryptodedBackends } from "./backends.ts";
export type { ConnectionView } from "./tunnels/mod.ts";
export { JsonStreamParser } from "./stream_parser.ts";
export { CryptodedService } from "./service.ts";
export { cryptodedDefinition } from "./definition.ts";
