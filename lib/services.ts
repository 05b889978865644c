/**
 * The list of services compiled into the agent, in start order, and what each adds to the
 * command line. Adding a protocol means adding its definition (and its CLI extension) here;
 * nothing else in the agent needs to know about it. Clients and extra programs are imported
 * lazily, so `serve` never loads them.
 *
 * @module
 */
import type { CliExtension } from "./cli/extension.ts";
import type { AnyServiceDefinition } from "./core/mod.ts";
import { adminDefinition } from "./protocols/admin/definition.ts";
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

/** The `ctl` clients and extra programs, one entry per service that has any. */
export const CLI_EXTENSIONS: readonly CliExtension[] = [
  {
    name: "cryptoded",
    registerCtl: async (ctl, env) =>
      (await import("./protocols/cryptoded/ctl.ts")).registerCryptodedCtl(ctl, env),
  },
  {
    name: "sozu",
    registerCtl: async (ctl, env) =>
      (await import("./protocols/sozu/ctl.ts")).registerSozuCtl(ctl, env),
  },
  {
    name: "intervirt",
    registerCtl: async (ctl, env) =>
      (await import("./protocols/intervirt/ctl.ts")).registerIntervirtCtl(ctl, env),
  },
  {
    name: "masq",
    registerCtl: async (ctl, env) =>
      (await import("./protocols/masq/ctl.ts")).registerMasqCtl(ctl, env),
    programs: [{
      name: "masq-node",
      description:
        "run the built-in MASQ Node (the Daemon launches it): --name value … --ui-port N",
      run: async (args) => (await import("./protocols/masq/node/main.ts")).runMasqNode(args),
    }],
  },
  {
    name: "quix",
    registerCtl: async (ctl, env) =>
      (await import("./protocols/quix/ctl.ts")).registerQuixCtl(ctl, env),
  },
];
