/**
 * The `[intervirt]` service: the Intervirt Agent. A WebSocket server (Hono) on
 * `/containerManagement` whose requests manage LXC (or Incus) containers on an agent-owned
 * bridge, with pair isolation, NAT and port forwards in one agent-owned nftables table.
 *
 * The skeleton, and the life of a request:
 *
 * 1. `server.ts` — the listener: Hono route with the allow-list, origin, client-count and token
 *    checks, then the WebSocket upgrade.
 * 2. `connection.ts` — one client: size cap, JSON parse, envelope (`type`, `uuid`); requests run
 *    concurrently, every reply carries `type` and `refID`.
 * 3. `handlers.ts` — the table request type → handler (core's `HandlerTable`); each handler parses
 *    its body with the zod schemas of `schemas.ts` and calls the domain.
 * 4. `containers/` — the domain: locks, records, runtime, bridge and nft table kept in step; it
 *    throws core's neutral errors and reaches the system only through {@linkcode IntervirtBackends}.
 * 5. `errors.ts` — the one mapper from anything thrown to `{"type":"General","refID","code","error"}`.
 *
 * Around them: `config.ts` (the section), `service.ts` (start/stop), `definition.ts` (the section
 * and the real backends: `backends/lxc` or `backends/incus`, `backends/bridge`,
 * `backends/netfilter`, `backends/intervirt_host`), `ctl.ts` and `client.ts` (the command-line
 * client).
 *
 * @module
 */

export { IntervirtClient, type IntervirtFrame } from "./client.ts";
export { type IntervirtConfig, intervirtConfigSchema } from "./config.ts";
export { IntervirtConnection } from "./connection.ts";
export {
  ContainerManager,
  type IntervirtBackends,
  type IntervirtBackendSetup,
  type IntervirtBackendsFactory,
} from "./containers/mod.ts";
export { errorFields, IntervirtErrorCode } from "./errors.ts";
export {
  buildIntervirtHandlers,
  type IntervirtHandler,
  type IntervirtHandlerContext,
} from "./handlers.ts";
export { createIntervirtApp, serveIntervirt } from "./server.ts";
export { IntervirtService } from "./service.ts";
export { intervirtDefinition, loadIntervirtBackends } from "./definition.ts";
