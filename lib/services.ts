/**
 * The list of services compiled into the agent, in start order. Adding a protocol means adding
 * its definition here; nothing else in the agent needs to know about it.
 *
 * @module
 */
import type { AnyServiceDefinition } from "./core/mod.ts";
import { adminDefinition } from "./protocols/admin/mod.ts";
import { cryptodedDefinition } from "./protocols/cryptoded/definition.ts";
import { intervirtDefinition } from "./protocols/intervirt/definition.ts";
import { masqDefinition } from "./protocols/masq/definition.ts";
import { quixDefinition } from "./protocols/quix/definition.ts";
import { sozuDefinition } from "./protocols/sozu/definition.ts";

/** Every service, in start order (admin first so health is visible while others start). */
export const SERVICE_DEFINITIONS: readonly AnyServiceDefinition[] = [
  adminDefinition,
  cryptodedDefinition,
  sozuDefinition,
  intervirtDefinition,
  masqDefinition,
  quixDefinition,
];
