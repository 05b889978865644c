/**
 * The `[intervirt]` service: the Intervirt Agent. A WebSocket server (Hono) on
 * `/containerManagement` whose requests manage LXC (or Incus) containers on an agent-owned
 * bridge, with pair isolation, NAT and port forwards in one agent-owned nftables table.
 *
 * @module
 */

export { createIntervirtApp } from "./app.ts";
export { IntervirtClient, type IntervirtFrame } from "./client.ts";
export { type IntervirtConfig, intervirtConfigSchema } from "./config.ts";
export { ErrorCode, IntervirtError } from "./errors.ts";
export { buildHandlerTable, HandlerTable } from "./handlers.ts";
export { ContainerManager } from "./manager.ts";
export { IntervirtService } from "./service.ts";
export { intervirtDefinition } from "./definition.ts";
