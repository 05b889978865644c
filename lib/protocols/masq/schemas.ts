/**
 * Every MASQNode-UIv2 payload the Daemon and the built-in Node read (zod), and the static set of
 * opcodes the real `masq_lib` defines.
 */
import { z } from "zod";

/** Opcodes the real `masq_lib/src/messages.rs` defines, with whether they are conversational. */
export const KNOWN_OPCODES: ReadonlyMap<string, "conv" | "oneway"> = new Map([
  ["changePassword", "conv"],
  ["checkPassword", "conv"],
  ["configuration", "conv"],
  ["configurationChanged", "oneway"],
  ["connectionChange", "oneway"],
  ["connectionStatus", "conv"],
  ["crash", "oneway"],
  ["crashed", "oneway"],
  ["descriptor", "conv"],
  ["exitLocation", "conv"],
  ["financials", "conv"],
  ["generateWallets", "conv"],
  ["logBroadcast", "oneway"],
  ["neighborhoodGraph", "conv"],
  ["newPassword", "oneway"],
  ["recoverWallets", "conv"],
  ["redirect", "oneway"],
  ["scan", "conv"],
  ["setConfiguration", "conv"],
  ["setup", "conv"],
  ["shutdown", "conv"],
  ["start", "conv"],
  ["undelivered", "oneway"],
  ["unmarshalError", "oneway"],
  ["walletAddresses", "conv"],
]);

/** `setup` request. */
export const setupRequest = z.object({
  values: z.array(z.object({
    name: z.string(),
    value: z.string().nullable().optional(),
  })),
});

/** One `name`/`value` of a `setup` request. */
export type SetupRequestValue = z.infer<typeof setupRequest>["values"][number];

/** `start`, `shutdown`, `descriptor`, `connectionStatus`: an empty object (extra keys ignored). */
export const emptyRequest = z.object({});

/** `checkPassword` and `configuration`. */
export const passwordOptRequest = z.object({
  dbPasswordOpt: z.string().nullable().optional(),
});

/** `changePassword`. */
export const changePasswordRequest = z.object({
  oldPasswordOpt: z.string().nullable().optional(),
  newPassword: z.string(),
});

/** A parsed `changePassword` request. */
export type ChangePasswordRequest = z.infer<typeof changePasswordRequest>;

/** `setConfiguration`. */
export const setConfigurationRequest = z.object({
  name: z.string(),
  value: z.string(),
});

/** `crash` (one-way, UI → Node). */
export const crashRequest = z.object({
  actor: z.string(),
  panicMessage: z.string(),
});
