/**
 * The `[sozu]` service: the sozu command socket (NUL-framed JSON on a 0600 Unix socket) and the
 * HTTP reverse proxy it drives. `wire.ts` holds the schemas of every message, `handlers.ts` the
 * table from message type to handler, `state.ts` the ConfigState with its consistency checks,
 * `control_plane.ts` the serial order queue with durable writes, `connection.ts` the transport,
 * `ctl.ts` and `client.ts` the `polyagent ctl sozu` client.
 *
 * @module
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import { type SozuConfig, sozuConfigSchema } from "./config.ts";
import { registerSozuCtl } from "./ctl.ts";
import { createDataPlane } from "../../backends/http_proxy/mod.ts";
import { SozuService } from "./service.ts";

export { proxyOrder, SozuClient, SozuTimeoutError } from "./client.ts";
export type { RequestBody } from "./client.ts";
export { type SozuConfig, sozuConfigSchema } from "./config.ts";
export { ConfigState } from "./state.ts";
export type { ConfigStateJson } from "./state.ts";
export { type DataPlaneFactory, SozuService } from "./service.ts";
export { decodeRecords, encodeRecords } from "./state_file.ts";
export type { CommandResponse } from "./reply.ts";

/** The `[sozu]` service definition. */
export const sozuDefinition: ServiceDefinition<SozuConfig> = {
  name: "sozu",
  summary: "sozu command socket and the HTTP reverse proxy it drives",
  configSchema: sozuConfigSchema,
  create: () => new SozuService(createDataPlane),
  registerCtl: registerSozuCtl,
};
