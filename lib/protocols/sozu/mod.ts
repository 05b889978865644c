/**
 * The `[sozu]` service: the sozu command socket (NUL-framed JSON on a 0600 Unix socket) and the
 * HTTP reverse proxy it drives. `wire.ts` holds the schemas of every message, `handlers.ts` the
 * table from message type to handler, `state.ts` the ConfigState with its consistency checks,
 * `control_plane.ts` the serial order queue with durable writes, `connection.ts` the transport,
 * `ctl.ts` and `client.ts` the `polyagent ctl sozu` client.
 *
 * @module
 */

export { proxyOrder, SozuClient, SozuTimeoutError } from "./client.ts";
export type { RequestBody } from "./client.ts";
export { type SozuConfig, sozuConfigSchema } from "./config.ts";
export { ConfigState } from "./state.ts";
export type { ConfigStateJson } from "./state.ts";
export { type DataPlaneFactory, SozuService } from "./service.ts";
export { decodeRecords, encodeRecords } from "./state_file.ts";
export type { CommandResponse } from "./reply.ts";
export { sozuDefinition } from "./definition.ts";
