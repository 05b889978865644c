/**
 * The wire messages of cryptoded: the static set of command codes, the zod schema of a request and
 * of each parameter, and the parsers the handlers use. A bad parameter throws a neutral error whose
 * `reason` tells errors.ts the response code: {@linkcode InvalidError} "param" (INVALID_CMD),
 * "json" (JSON_INVALID) or "profile-type" (INVALID_PROFILE_TYPE); {@linkcode NotFoundError} for a
 * name no connection can have (CONN_NOT_FOUND); EDIT's "edit-option" / "edit-value".
 */
import { z } from "zod";
import { InvalidError, NotFoundError } from "../../core/mod.ts";
import { isValidProfileName } from "../../backends/openvpn/mod.ts";

/** What a command does, whatever its number in a dialect. */
export type CommandName =
  | "connect"
  | "disconnect"
  | "reconnect"
  | "status"
  | "script-security"
  | "reload"
  | "import"
  | "edit"
  | "remove"
  | "dns-override"
  | "get-confdir";

/** Command codes of the document dialect (rvd 8094ffc, `/var/run/rvd`). */
export const Cmd = {
  CONNECT: 0,
  DISCONNECT: 1,
  STATUS: 2,
  SCRIPT_SECURITY: 3,
  RELOAD: 4,
  IMPORT: 5,
  REMOVE: 6,
  DNS_OVERRIDE: 7,
  GET_CONFDIR: 8,
} as const;

/** Command codes of the cryptode v1.x dialect (`/var/run/cryptoded.sock`). */
export const V1Cmd = {
  CONNECT: 0,
  DISCONNECT: 1,
  RECONNECT: 2,
  STATUS: 3,
  SCRIPT_SECURITY: 4,
  RELOAD: 5,
  IMPORT: 6,
  EDIT: 7,
  REMOVE: 8,
  DNS_OVERRIDE: 9,
  GET_CONFDIR: 10,
} as const;

/** A document-dialect command code. */
export type CmdCode = typeof Cmd[keyof typeof Cmd];

/** Code → command, from a table like {@linkcode Cmd}. */
export function commandsByCode(table: Readonly<Record<string, number>>): Map<number, CommandName> {
  return new Map(
    Object.entries(table).map(([k, v]) => [v, k.toLowerCase().replace(/_/g, "-") as CommandName]),
  );
}

/** A parameter that is not one the command takes (INVALID_CMD). */
function badParam(message: string): InvalidError {
  return new InvalidError(message, { reason: "param" });
}

/** A parameter object that fails its schema (JSON_INVALID). */
function badJson(message: string): InvalidError {
  return new InvalidError(message, { reason: "json" });
}

/** A profile name or type that cannot be imported (INVALID_PROFILE_TYPE). */
function badProfile(message: string): InvalidError {
  return new InvalidError(message, { reason: "profile-type" });
}

/** No connection can have this name (CONN_NOT_FOUND). */
function noConnection(name: string): NotFoundError {
  return new NotFoundError(`param: no connection named ${JSON.stringify(name)}`);
}

/**
 * One request: `{"cmd": int, "param": string|object|null, "json": bool?}`, plus polyagent's
 * `"detail": true` (what `polyagent ctl` sends) for `last-error` in document-dialect STATUS.
 */
export const requestSchema = z.object({
  cmd: z.number().int(),
  param: z.union([z.string().max(65536), z.record(z.string(), z.unknown()), z.null()]).optional(),
  json: z.boolean().optional(),
  detail: z.boolean().optional(),
});

/** A parsed request. */
export type CryptodedRequest = z.infer<typeof requestSchema>;

/** Describes the first zod issue as `field: message`. */
export function describeCryptodedIssue(error: z.ZodError, prefix = ""): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request";
  const path = [prefix, ...issue.path.map(String)].filter((s) => s !== "").join(".");
  return `${path || "request"}: ${issue.message}`;
}

/** `all` or a connection name. */
export type CryptodedTarget = { all: true } | { all: false; name: string };

/** CONNECT / DISCONNECT / STATUS parameter. */
export function parseTarget(param: CryptodedRequest["param"]): CryptodedTarget {
  if (typeof param !== "string" || param.trim() === "") {
    throw badParam(`param: expected "all" or a connection name`);
  }
  const value = param.trim();
  if (value === "all") return { all: true };
  if (!isValidProfileName(value)) throw noConnection(value);
  return { all: false, name: value };
}

/** SCRIPT_SECURITY parameter. */
export function parseEnableDisable(param: CryptodedRequest["param"]): boolean {
  if (param === "enable") return true;
  if (param === "disable") return false;
  throw badParam(`param: expected "enable" or "disable"`);
}

const importFromFile = z.strictObject({
  type: z.string(),
  path: z.string().min(1).max(4096),
});
const importInline = z.strictObject({
  name: z.string().min(1).max(200),
  content: z.string(),
});

/** IMPORT parameter. */
export type CryptodedImportParam =
  | { kind: "ovpn" | "tblk"; path: string }
  | { kind: "inline"; name: string; content: string };

/** IMPORT: `{type, path}`, `{name, content}` or the string `"<type> <path>"`. */
export function parseImport(param: CryptodedRequest["param"]): CryptodedImportParam {
  let value: unknown = param;
  if (typeof param === "string") {
    const space = param.indexOf(" ");
    value = space < 0 ? { type: param, path: "" } : {
      type: param.slice(0, space),
      path: param.slice(space + 1).trim(),
    };
  }
  if (typeof value === "object" && value !== null && "content" in value) {
    const r = importInline.safeParse(value);
    if (!r.success) throw badJson(describeCryptodedIssue(r.error, "param"));
    if (!isValidProfileName(r.data.name)) {
      throw badProfile(`param.name: ${JSON.stringify(r.data.name)} is not a valid profile name`);
    }
    return { kind: "inline", ...r.data };
  }
  const r = importFromFile.safeParse(value);
  if (!r.success) throw badJson(describeCryptodedIssue(r.error, "param"));
  if (r.data.type === "new-from-ovpn") return { kind: "ovpn", path: r.data.path };
  if (r.data.type === "new-from-tblk") return { kind: "tblk", path: r.data.path };
  throw badProfile(
    `param.type: expected "new-from-ovpn" or "new-from-tblk", got ${JSON.stringify(r.data.type)}`,
  );
}

const removeObject = z.strictObject({ name: z.string().min(1), force: z.boolean().optional() });

/** REMOVE: a name or `{name, force}`. */
export function parseRemove(param: CryptodedRequest["param"]): { name: string; force: boolean } {
  let name: string;
  let force = false;
  if (typeof param === "string") {
    name = param.trim();
  } else {
    const r = removeObject.safeParse(param);
    if (!r.success) throw badJson(describeCryptodedIssue(r.error, "param"));
    name = r.data.name;
    force = r.data.force ?? false;
  }
  if (!isValidProfileName(name)) throw noConnection(name);
  return { name, force };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:]+(%[A-Za-z0-9_.-]+)?$/;

function isIp(s: string): boolean {
  return IPV4.test(s) || (IPV6.test(s) && s.includes(":") && s.length <= 45);
}

/** DNS_OVERRIDE parameter. */
export type CryptodedDnsParam = { action: "enable"; servers: string[] } | {
  action: "disable" | "status";
};

/** DNS_OVERRIDE: `enable <ip,ip>` / `disable` / `status`. */
export function parseDns(param: CryptodedRequest["param"]): CryptodedDnsParam {
  if (typeof param !== "string") {
    throw badParam(`param: expected "enable <ip,ip>", "disable" or "status"`);
  }
  const [action, list, ...rest] = param.trim().split(/\s+/);
  if ((action === "disable" || action === "status") && list === undefined) return { action };
  if (action === "enable" && list !== undefined && rest.length === 0) {
    const servers = list.split(",").filter((s) => s !== "");
    const bad = servers.find((s) => !isIp(s));
    if (servers.length === 0 || servers.length > 8 || bad !== undefined) {
      throw badJson(
        `param: expected 1 to 8 comma-separated IP addresses${
          bad ? `, got ${JSON.stringify(bad)}` : ""
        }`,
      );
    }
    return { action, servers };
  }
  throw badParam(`param: expected "enable <ip,ip>", "disable" or "status"`);
}

/** The options EDIT changes, as the v1.x client names them. */
export type EditOption = "auto-connect" | "pre-exec-cmd";

const editObject = z.strictObject({
  name: z.string().min(1),
  option: z.string(),
  value: z.string().max(512),
});

/** EDIT: `"<name> <option> <value>"` (as the v1.x CLI) or `{name, option, value}`. */
export function parseEdit(
  param: CryptodedRequest["param"],
): { name: string; option: EditOption; value: string } {
  let raw: unknown = param;
  if (typeof param === "string") {
    const m = /^\s*(\S+)\s+(\S+)(?:\s+(.*?))?\s*$/.exec(param);
    if (!m) throw badParam(`param: expected "<name> <option> <value>"`);
    raw = { name: m[1], option: m[2], value: m[3] ?? "" };
  }
  const r = editObject.safeParse(raw);
  if (!r.success) throw badJson(describeCryptodedIssue(r.error, "param"));
  const { name, option, value } = r.data;
  if (!isValidProfileName(name)) throw noConnection(name);
  if (option !== "auto-connect" && option !== "pre-exec-cmd") {
    throw new InvalidError(
      `param.option: expected "auto-connect" or "pre-exec-cmd", got ${JSON.stringify(option)}` +
        (option === "profile" ? " (import a new profile instead)" : ""),
      { reason: "edit-option" },
    );
  }
  if (option === "auto-connect" && value !== "enable" && value !== "disable") {
    throw new InvalidError(`param.value: expected "enable" or "disable" for auto-connect`, {
      reason: "edit-value",
    });
  }
  if (/[\0\n\r]/.test(value)) {
    throw new InvalidError("param.value: control characters are not allowed", {
      reason: "edit-value",
    });
  }
  return { name, option, value };
}
