/**
 * The `[sozu]` service: the sozu command socket (NUL-framed JSON on a 0600 Unix socket) and the
 * HTTP reverse proxy it drives. The protocol skeleton:
 *
 * - `config.ts` — the `[sozu]` section; `address.ts` the "ip:port" check it shares with the wire.
 * - `schemas.ts` — the request envelope and its decoder, the static sets of command and order
 *   names, the reply envelope, the field types and command payloads; `order_schemas.ts` the order
 *   payloads in every sozu version's shape.
 * - `handlers.ts` — two core `HandlerTable`s: top-level command → handler and order → handler.
 * - `errors.ts` — the one place where errors become ERROR replies.
 * - `server.ts` — the command socket; `connection.ts` — one client: framing, decoding, concurrent
 *   dispatch, batched replies.
 * - `control_plane.ts` — the serial order queue with durable writes.
 * - `state/` — the domain: canonical orders, the ConfigState (planning vs tables vs views) and
 *   sozu's saved-state record stream; it throws core's neutral errors.
 * - `service.ts` — lifecycle; `definition.ts` — wiring and {@linkcode SozuBackends} (the data
 *   plane of lib/backends/http_proxy and the saved-state files of lib/backends/sozu_state_files).
 * - `ctl.ts` and `client.ts` — the `polyagent ctl sozu` client.
 *
 * Life of a message: `server.ts` accepts; `connection.ts` splits on NUL and decodes
 * (`schemas.ts`); `handlers.ts` finds the handler; a state order is parsed (`state/orders.ts`) and
 * run by `control_plane.ts`, which plans it against the state, applies it to the data plane,
 * commits and saves; `errors.ts` turns any refusal into the ERROR reply.
 *
 * @module
 */

export { proxyOrder, SozuClient, SozuTimeoutError } from "./client.ts";
export type { RequestBody } from "./client.ts";
export { type SozuConfig, sozuConfigSchema } from "./config.ts";
export { ConfigState, decodeRecords, encodeRecords } from "./state/mod.ts";
export type { ConfigStateJson } from "./state/mod.ts";
export { SozuService } from "./service.ts";
export type { CommandResponse, SozuReplyStatus, SozuRequest } from "./schemas.ts";
export {
  type DataPlaneFactory,
  loadSozuBackends,
  type SozuBackends,
  sozuDefinition,
} from "./definition.ts";
