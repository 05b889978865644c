/**
 * The `[intervirt]` service: the Intervirt Agent. A WebSocket server (Hono) on
 * `/containerManagement` whose requests manage LXC (or Incus) containers on an agent-owned
 * bridge, with pair isolation, NAT and port forwards in one agent-owned nftables table.
 *
 * @module
 */
import type { ServiceDefinition } from "../../core/mod.ts";
import { type IntervirtConfig, intervirtConfigSchema } from "./config.ts";
import { registerIntervirtCtl } from "./ctl.ts";
import { IntervirtService } from "./service.ts";

export { createIntervirtApp } from "./app.ts";
export { IntervirtClient, type IntervirtFrame } from "./client.ts";
export { type IntervirtConfig, intervirtConfigSchema } from "./config.ts";
export { ErrorCode, IntervirtError } from "./errors.ts";
export { buildHandlerTable, HandlerTable } from "./handlers.ts";
export { ContainerManager } from "./manager.ts";
export { IntervirtService } from "./service.ts";
export { AGENT_VERSION } from "./version.ts";

/** The `[intervirt]` service definition. */
export const intervirtDefinition: ServiceDefinition<IntervirtConfig> = {
  name: "intervirt",
  summary: "Intervirt container agent over WebSocket (LXC / Incus)",
  configSchema: intervirtConfigSchema,
  create: () => new IntervirtService(),
  registerCtl: registerIntervirtCtl,
};
