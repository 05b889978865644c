/**
 * zod schemas of every request the Intervirt client sends. Handlers get the parsed, typed values;
 * a failed parse becomes code 8 naming the field.
 */
import { z } from "zod";

/** Every request type of the document, in its order. */
export const INTERVIRT_REQUEST_TYPES = [
  "AddContainer",
  "RemoveContainer",
  "StartContainer",
  "StopContainer",
  "IDWithNewIpv4",
  "IDWithNewIpv6",
  "Connect",
  "Disconnect",
  "SetInternetAccess",
  "AddPortForwarding",
  "RemovePortForwarding",
  "Command",
] as const;

/** A request type. */
export type IntervirtRequestType = typeof INTERVIRT_REQUEST_TYPES[number];

/** The commands of a `Command` request. */
export const INTERVIRT_COMMANDS = ["wipe", "update", "shutdown", "reboot", "version"] as const;

/** A command name. */
export type IntervirtCommandName = typeof INTERVIRT_COMMANDS[number];

/** Container ids: they become runtime names and interface-name hashes. */
export const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,47}$/;

const id = z.string("expected a container id (a string)").regex(
  CONTAINER_ID,
  "expected a container id of letters, digits and '-' (at most 48, starting with a letter or digit)",
);
const ipv4 = z.ipv4("expected an IPv4 address");
const ipv6 = z.ipv6("expected an IPv6 address");
const mac = z.string("expected a MAC address (a string)").regex(
  /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/,
  "expected a MAC address",
)
  .refine((m) => (parseInt(m.slice(0, 2), 16) & 1) === 0, "expected a unicast MAC address")
  .transform((m) => m.toLowerCase());
const image = z.string('expected an image name (a string such as "debian/13")').max(
  100,
  "expected an image name of at most 100 characters",
).regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/,
  'expected an image name such as "debian/13"',
).refine((s) => !s.split("/").includes(".."), 'expected an image name without ".."');
const port = z.number("expected a port number").int("expected a whole port number")
  .min(1, "expected a port from 1 to 65535").max(65535, "expected a port from 1 to 65535");
const protocol = z.string('expected "tcp" or "udp"').transform((s) => s.toLowerCase()).pipe(
  z.enum(["tcp", "udp"], 'expected "tcp" or "udp"'),
);
const bool = z.boolean("expected true or false");

/** Fields every request has. */
export const intervirtEnvelopeSchema = z.object({
  type: z.string("expected a request type string"),
  uuid: z.string("expected a string").max(200, "expected at most 200 characters").optional(),
});

/** AddContainer. */
export const addContainerSchema = z.object({
  id,
  ipv4,
  ipv6,
  mac,
  internet: bool.default(false),
  image,
});
/** A request naming one container. */
export const idSchema = z.object({ id });
/** IDWithNewIpv4 (`newIpv4` from the client, `newIP` from the document). */
export const newIpv4Schema = z.object({ id, newIpv4: ipv4.optional(), newIP: ipv4.optional() })
  .transform((r, ctx) => {
    const ip = r.newIpv4 ?? r.newIP;
    if (ip === undefined) {
      ctx.addIssue({ code: "custom", path: ["newIpv4"], message: "expected an IPv4 address" });
      return z.NEVER;
    }
    return { id: r.id, ip, field: r.newIpv4 !== undefined ? "newIpv4" : "newIP" };
  });
/** IDWithNewIpv6 (`newIpv6` or `newIP`). */
export const newIpv6Schema = z.object({ id, newIpv6: ipv6.optional(), newIP: ipv6.optional() })
  .transform((r, ctx) => {
    const ip = r.newIpv6 ?? r.newIP;
    if (ip === undefined) {
      ctx.addIssue({ code: "custom", path: ["newIpv6"], message: "expected an IPv6 address" });
      return z.NEVER;
    }
    return { id: r.id, ip, field: r.newIpv6 !== undefined ? "newIpv6" : "newIP" };
  });
/** Connect / Disconnect. */
export const pairSchema = z.object({ id1: id, id2: id });
/** SetInternetAccess. */
export const internetSchema = z.object({ id, enabled: bool });
/** AddPortForwarding. */
export const addForwardSchema = z.object({
  id,
  internalPort: port,
  externalPort: port,
  protocol,
});
/** RemovePortForwarding. */
export const removeForwardSchema = z.object({ externalPort: port, protocol });
/** Command. */
export const commandSchema = z.object({
  command: z.string(`expected a command name (one of ${INTERVIRT_COMMANDS.join(", ")})`),
});

/** Parsed AddContainer. */
export type AddContainerRequest = z.infer<typeof addContainerSchema>;
/** Parsed AddPortForwarding. */
export type AddForwardRequest = z.infer<typeof addForwardSchema>;
/** Parsed RemovePortForwarding. */
export type RemoveForwardRequest = z.infer<typeof removeForwardSchema>;
/** Port-forward protocol. */
export type ForwardProtocol = "tcp" | "udp";

/** The value at `path` inside `input`, or undefined when any step of it is absent. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The JSON type of a received value, for "got …". */
function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" ? "an object" : `a ${type}`;
}

/**
 * Describes the first issue of a failed parse of `input`, naming the field: `Missing field "x"`
 * only when `input` has no such field, otherwise `Invalid field "x": expected …` (with the type
 * received when it is the type that is wrong). zod 4 does not put the input on its issues, so the
 * field is looked up in `input` itself.
 */
export function describeIssue(error: z.ZodError, input: unknown): string {
  const issue = error.issues[0];
  if (!issue) return "Invalid request";
  const field = issue.path.map(String).join(".") || "request";
  const value = valueAt(input, issue.path);
  if (value === undefined && issue.path.length > 0) return `Missing field "${field}"`;
  if (issue.code === "invalid_type") {
    return `Invalid field "${field}": ${issue.message}, got ${jsonType(value)}`;
  }
  return `Invalid field "${field}": ${issue.message}`;
}
