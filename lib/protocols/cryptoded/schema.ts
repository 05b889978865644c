/** zod schemas for every cryptoded request and parameter, and the parsers the handlers use. */
import { z } from "zod";
import { isValidProfileName } from "../../backends/openvpn/mod.ts";
import { Resp } from "./codes.ts";
import { CryptodedError } from "./errors.ts";

/** One request: `{"cmd": int, "param": string|object|null, "json": bool?}`. */
export const requestSchema = z.object({
  cmd: z.number().int(),
  param: z.union([z.string().max(65536), z.record(z.string(), z.unknown()), z.null()]).optional(),
  json: z.boolean().optional(),
});

/** A parsed request. */
export type Request = z.infer<typeof requestSchema>;

/** Describes the first zod issue as `field: message`. */
export function describeIssue(error: z.ZodError, prefix = ""): string {
  const issue = error.issues[0];
  if (!issue) return "invalid request";
  const path = [prefix, ...issue.path.map(String)].filter((s) => s !== "").join(".");
  return `${path || "request"}: ${issue.message}`;
}

/** `all` or a connection name. */
export type Target = { all: true } | { all: false; name: string };

/** CONNECT / DISCONNECT / STATUS parameter. */
export function parseTarget(param: Request["param"]): Target {
  if (typeof param !== "string" || param.trim() === "") {
    throw new CryptodedError(Resp.INVALID_CMD, `param: expected "all" or a connection name`);
  }
  const value = param.trim();
  if (value === "all") return { all: true };
  if (!isValidProfileName(value)) {
    throw new CryptodedError(
      Resp.CONN_NOT_FOUND,
      `param: no connection named ${JSON.stringify(value)}`,
    );
  }
  return { all: false, name: value };
}

/** SCRIPT_SECURITY parameter. */
export function parseEnableDisable(param: Request["param"]): boolean {
  if (param === "enable") return true;
  if (param === "disable") return false;
  throw new CryptodedError(Resp.INVALID_CMD, `param: expected "enable" or "disable"`);
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
export type ImportParam =
  | { kind: "ovpn" | "tblk"; path: string }
  | { kind: "inline"; name: string; content: string };

/** IMPORT: `{type, path}`, `{name, content}` or the string `"<type> <path>"`. */
export function parseImport(param: Request["param"]): ImportParam {
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
    if (!r.success) throw new CryptodedError(Resp.JSON_INVALID, describeIssue(r.error, "param"));
    if (!isValidProfileName(r.data.name)) {
      throw new CryptodedError(
        Resp.INVALID_PROFILE_TYPE,
        `param.name: ${JSON.stringify(r.data.name)} is not a valid profile name`,
      );
    }
    return { kind: "inline", ...r.data };
  }
  const r = importFromFile.safeParse(value);
  if (!r.success) throw new CryptodedError(Resp.JSON_INVALID, describeIssue(r.error, "param"));
  if (r.data.type === "new-from-ovpn") return { kind: "ovpn", path: r.data.path };
  if (r.data.type === "new-from-tblk") return { kind: "tblk", path: r.data.path };
  throw new CryptodedError(
    Resp.INVALID_PROFILE_TYPE,
    `param.type: expected "new-from-ovpn" or "new-from-tblk", got ${JSON.stringify(r.data.type)}`,
  );
}

const removeObject = z.strictObject({ name: z.string().min(1), force: z.boolean().optional() });

/** REMOVE: a name or `{name, force}`. */
export function parseRemove(param: Request["param"]): { name: string; force: boolean } {
  let name: string;
  let force = false;
  if (typeof param === "string") {
    name = param.trim();
  } else {
    const r = removeObject.safeParse(param);
    if (!r.success) throw new CryptodedError(Resp.JSON_INVALID, describeIssue(r.error, "param"));
    name = r.data.name;
    force = r.data.force ?? false;
  }
  if (!isValidProfileName(name)) {
    throw new CryptodedError(
      Resp.CONN_NOT_FOUND,
      `param: no connection named ${JSON.stringify(name)}`,
    );
  }
  return { name, force };
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:]+(%[A-Za-z0-9_.-]+)?$/;

function isIp(s: string): boolean {
  return IPV4.test(s) || (IPV6.test(s) && s.includes(":") && s.length <= 45);
}

/** DNS_OVERRIDE parameter. */
export type DnsParam = { action: "enable"; servers: string[] } | { action: "disable" | "status" };

/** DNS_OVERRIDE: `enable <ip,ip>` / `disable` / `status`. */
export function parseDns(param: Request["param"]): DnsParam {
  if (typeof param !== "string") {
    throw new CryptodedError(
      Resp.INVALID_CMD,
      `param: expected "enable <ip,ip>", "disable" or "status"`,
    );
  }
  const [action, list, ...rest] = param.trim().split(/\s+/);
  if ((action === "disable" || action === "status") && list === undefined) return { action };
  if (action === "enable" && list !== undefined && rest.length === 0) {
    const servers = list.split(",").filter((s) => s !== "");
    const bad = servers.find((s) => !isIp(s));
    if (servers.length === 0 || servers.length > 8 || bad !== undefined) {
      throw new CryptodedError(
        Resp.JSON_INVALID,
        `param: expected 1 to 8 comma-separated IP addresses${
          bad ? `, got ${JSON.stringify(bad)}` : ""
        }`,
      );
    }
    return { action, servers };
  }
  throw new CryptodedError(
    Resp.INVALID_CMD,
    `param: expected "enable <ip,ip>", "disable" or "status"`,
  );
}
