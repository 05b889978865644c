/**
 * The command socket's wire format: the request envelope (both the README's shapes and the code's
 * `"type":"PROXY"` wrapper), the static sets of top-level command and worker order names the
 * decoder sorts requests by, the reply envelope (code shape, upper-case statuses), the field types
 * every payload shares and the payloads of the top-level commands. The order payloads are in
 * `order_schemas.ts`. Everything here is pure; a refusal is a core {@linkcode InvalidError}.
 */
import { z } from "zod";
import { InvalidError } from "../../core/mod.ts";
import { isSocketAddress } from "./address.ts";

export { isSocketAddress };

/** Largest accepted frame, as sozu's default command buffer. */
export const MAX_FRAME = 1_000_000;

// ---------------------------------------------------------------- names

/** Top-level commands (`{"type":COMMAND,…}`). */
export const SOZU_COMMANDS: ReadonlySet<string> = new Set([
  "SAVE_STATE",
  "LOAD_STATE",
  "DUMP_STATE",
  "LIST_WORKERS",
  "STATUS",
  "LIST_FRONTENDS",
  "SUBSCRIBE_EVENTS",
  "LAUNCH_WORKER",
  "UPGRADE_MASTER",
  "UPGRADE_MAIN",
  "UPGRADE_WORKER",
  "RELOAD_CONFIGURATION",
]);

/** The worker orders that change the configuration state (canonical names). */
export const STATE_ORDER_TYPES: ReadonlySet<string> = new Set([
  "ADD_APPLICATION",
  "REMOVE_APPLICATION",
  "ADD_HTTP_FRONT",
  "REMOVE_HTTP_FRONT",
  "ADD_HTTPS_FRONT",
  "REMOVE_HTTPS_FRONT",
  "ADD_BACKEND",
  "REMOVE_BACKEND",
  "ADD_CERTIFICATE",
  "REPLACE_CERTIFICATE",
  "REMOVE_CERTIFICATE",
  "ADD_HTTP_LISTENER",
  "ADD_HTTPS_LISTENER",
  "ADD_TCP_LISTENER",
  "ADD_TCP_FRONT",
  "REMOVE_TCP_FRONT",
  "REMOVE_LISTENER",
  "ACTIVATE_LISTENER",
  "DEACTIVATE_LISTENER",
]);

/** v0.14 order names accepted as aliases of the canonical ones. */
export const ORDER_ALIASES: Readonly<Record<string, string>> = {
  ADD_CLUSTER: "ADD_APPLICATION",
  REMOVE_CLUSTER: "REMOVE_APPLICATION",
  ADD_TCP_FRONTEND: "ADD_TCP_FRONT",
  REMOVE_TCP_FRONTEND: "REMOVE_TCP_FRONT",
  ADD_HTTP_FRONTEND: "ADD_HTTP_FRONT",
  REMOVE_HTTP_FRONTEND: "REMOVE_HTTP_FRONT",
  ADD_HTTPS_FRONTEND: "ADD_HTTPS_FRONT",
  REMOVE_HTTPS_FRONTEND: "REMOVE_HTTPS_FRONT",
};

/** Every worker order (`{"type":"PROXY","data":{"type":ORDER,…}}`), aliases included. */
export const SOZU_ORDERS: ReadonlySet<string> = new Set([
  ...STATE_ORDER_TYPES,
  ...Object.keys(ORDER_ALIASES),
  "STATUS",
  "QUERY",
  "SOFT_STOP",
  "HARD_STOP",
  "METRICS",
  "CONFIGURE_METRICS",
  "LOGGING",
  "RETURN_LISTEN_SOCKETS",
]);

/** Canonical order name (aliases resolved). */
export function canonicalOrderName(name: string): string {
  return ORDER_ALIASES[name] ?? name;
}

// ---------------------------------------------------------------- parsing helpers

/** Renders zod issues as `field: problem; field: problem`. */
export function describeIssues(error: z.ZodError, prefix = ""): string {
  return error.issues.slice(0, 4).map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".");
    return `${path || "message"}: ${issue.message}`;
  }).join("; ");
}

/** Parses with a schema or throws an {@linkcode InvalidError} naming the fields. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string, at: string): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new InvalidError(`invalid ${what}: ${describeIssues(result.error, at)}`);
  }
  return result.data;
}

// ---------------------------------------------------------------- field types

/** "ip:port". */
export const socketAddress = z.string().refine(isSocketAddress, {
  message: 'expected an address "ip:port" (IPv6 as "[::1]:port")',
});

/** Application, backend and sticky ids: 1–256 printable ASCII characters, no spaces. */
export const identifier = z.string().regex(/^[\x21-\x7e]{1,256}$/, {
  message: "expected 1 to 256 printable characters without spaces",
});

const LABEL = "[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?";
const HOSTNAME = new RegExp(`^(\\*\\.)?${LABEL}(\\.${LABEL})*$`);

/** Lower-cases and IDNA-converts a hostname (keeping a leading `*.`); null when invalid. */
export function normalizeHostname(input: string): string | null {
  let host = input.trim().toLowerCase();
  if (host.endsWith(".")) host = host.slice(0, -1);
  const wildcard = host.startsWith("*.");
  let rest = wildcard ? host.slice(2) : host;
  if (/[^\x21-\x7e]/.test(rest)) {
    try {
      rest = new URL(`http://${rest}/`).hostname;
    } catch {
      return null;
    }
  }
  const out = (wildcard ? "*." : "") + rest;
  return out.length <= 253 && HOSTNAME.test(out) ? out : null;
}

/** A front's hostname: exact, or a one-label wildcard `*.example.com`. */
export const hostname = z.string().transform((value, ctx) => {
  const host = normalizeHostname(value);
  if (host === null) {
    ctx.addIssue({ code: "custom", message: `invalid hostname ${JSON.stringify(value)}` });
    return z.NEVER;
  }
  return host;
});

/** A raw path prefix; "" matches everything. */
export const pathBegin = z.string().max(4096).regex(/^[\x21-\x7e]*$/, {
  message: "expected printable characters without spaces",
});

/** A certificate's SHA-256 fingerprint as lower-case hex. */
export const certificateFingerprint = z.string().regex(/^[0-9a-fA-F]{64}$/, {
  message: "expected 64 hexadecimal digits (SHA-256)",
}).transform((s) => s.toLowerCase());

// ---------------------------------------------------------------- command payloads

/** The DOMAIN filter of an APPLICATIONS (0.13 `path_begin`) or CLUSTERS (v0.14 `path`) query. */
const domainQuery = z.object({
  type: z.literal("DOMAIN"),
  data: z.object({ hostname, path_begin: pathBegin.nullish(), path: pathBegin.nullish() }),
});

const idList = z.array(identifier).max(1000).nullish().transform((v) => v ?? []);

/** QUERY METRICS options (sozu 0.14 `QueryMetricsOptions`; every field optional here). */
export const queryMetricsOptions = z.object({
  list: z.boolean().nullish().transform((v) => v ?? false),
  cluster_ids: idList,
  backend_ids: idList,
  metric_names: z.array(z.string().max(256)).max(1000).nullish().transform((v) => v ?? []),
});

/**
 * CONFIGURE_METRICS payload: 0.14 `{"Enabled": bool}` / `"Clear"`, or the later names
 * `ENABLED` / `DISABLED` / `CLEARED` (any case).
 */
export const configureMetricsInput = z.unknown().transform((v, ctx) => {
  if (typeof v === "object" && v !== null && !Array.isArray(v)) {
    const flag = (v as Record<string, unknown>).Enabled ?? (v as Record<string, unknown>).ENABLED;
    if (typeof flag === "boolean") return flag ? "enable" : "disable";
  }
  const change = typeof v === "string"
    ? ({
      enabled: "enable",
      enable: "enable",
      disabled: "disable",
      disable: "disable",
      clear: "clear",
      cleared: "clear",
    } as const)[v.toLowerCase() as "clear"]
    : undefined;
  if (change) return change;
  ctx.addIssue({
    code: "custom",
    message: `expected ENABLED, DISABLED or CLEARED (or {"Enabled": bool}), got ${
      JSON.stringify(v) ?? "nothing"
    }`,
  });
  return z.NEVER;
});

/**
 * LOGGING payload: an env-logger filter ("info", "debug", "sozu=debug,warn"). The last bare level
 * wins, else the most verbose per-module one; trace counts as debug and off as error.
 */
export const loggingInput = z.string().min(1).max(1024).transform((filter, ctx) => {
  const rank = { trace: 0, debug: 0, info: 1, warn: 2, error: 3, off: 3 } as const;
  const names = ["debug", "info", "warn", "error"] as const;
  let global: number | null = null;
  let module: number | null = null;
  for (const part of filter.split(",")) {
    const item = part.trim().toLowerCase();
    if (item === "") continue;
    const eq = item.indexOf("=");
    const level = rank[(eq < 0 ? item : item.slice(eq + 1).trim()) as keyof typeof rank];
    if (level === undefined) {
      ctx.addIssue({ code: "custom", message: `unknown log level in ${JSON.stringify(part)}` });
      return z.NEVER;
    }
    if (eq < 0) global = level;
    else module = Math.min(module ?? level, level);
  }
  const chosen = global ?? module;
  if (chosen === null) {
    ctx.addIssue({ code: "custom", message: "expected a level such as info or debug" });
    return z.NEVER;
  }
  return names[chosen]!;
});

/** QUERY payload (0.13 APPLICATIONS, v0.14 CLUSTERS and METRICS names). */
export const queryInput = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("APPLICATIONS"),
    data: z.discriminatedUnion("type", [
      z.object({ type: z.literal("APP_ID"), data: identifier }),
      domainQuery,
    ]),
  }),
  z.object({
    type: z.literal("CLUSTERS"),
    data: z.discriminatedUnion("type", [
      z.object({ type: z.literal("CLUSTER_ID"), data: identifier }),
      domainQuery,
    ]),
  }),
  z.object({ type: z.literal("APPLICATIONS_HASHES") }),
  z.object({ type: z.literal("CLUSTERS_HASHES") }),
  z.object({ type: z.literal("METRICS"), data: queryMetricsOptions.nullish() }),
  z.object({
    type: z.literal("CERTIFICATES"),
    data: z.discriminatedUnion("type", [
      z.object({ type: z.literal("ALL") }),
      z.object({ type: z.literal("DOMAIN"), data: hostname }),
      z.object({
        type: z.literal("FINGERPRINT"),
        data: z.union([
          certificateFingerprint,
          z.array(z.number().int().min(0).max(255)).length(32),
        ]),
      }),
    ]),
  }),
]);
/** A parsed QUERY. */
export type Query = z.output<typeof queryInput>;

/** SAVE_STATE / LOAD_STATE payload. */
export const statePathInput = z.object({
  path: z.string().min(1).max(4096).refine((s) => !s.includes("\0"), "NUL in path"),
});

/** UPGRADE_WORKER payload: the worker id (a number, as sozu sends it, or its decimal text). */
export const workerIdInput = z.union([
  z.number().int().min(0).max(0xffffffff),
  z.string().regex(/^\d{1,10}$/, { message: "expected a worker id" }).transform(Number),
]);

/** LIST_FRONTENDS payload (v0.14). */
export const listFrontendsInput = z.object({
  http: z.boolean().nullish(),
  https: z.boolean().nullish(),
  tcp: z.boolean().nullish(),
  domain: z.string().max(253).nullish(),
}).nullish();

// ---------------------------------------------------------------- request envelope

/** The request envelope. `worker_id` is a number in code and a string in the README. */
export const sozuEnvelopeSchema = z.object({
  id: z.string().max(1024),
  version: z.number().int().min(0).nullish(),
  worker_id: z.union([
    z.number().int().min(0).max(0xffff_ffff),
    z.string().regex(/^\d{1,10}$/).transform(Number),
  ]).nullish(),
  type: z.string().max(64).nullish(),
  data: z.unknown().optional(),
});

/** A decoded request: top-level command or PROXY order (name + raw payload). */
export interface SozuRequest {
  id: string;
  workerId: number | null;
  /** Top-level type ("PROXY" for worker orders). */
  type: string;
  /** For PROXY: the order name. */
  order: string | null;
  /** The payload (for PROXY, the order's payload). */
  payload: unknown;
}

/** Best-effort id from a frame that did not decode. */
export function salvageId(text: string): string {
  const m = /"id"\s*:\s*"((?:[^"\\]|\\.){0,1024})"/.exec(text);
  if (!m) return "";
  try {
    return JSON.parse(`"${m[1]}"`);
  } catch {
    return "";
  }
}

/** The envelope of a request, checked (an object, a known version). */
function parseEnvelope(value: unknown): z.output<typeof sozuEnvelopeSchema> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidError("invalid request: expected a JSON object");
  }
  const parsed = sozuEnvelopeSchema.safeParse(value);
  if (!parsed.success) throw new InvalidError(`invalid request: ${describeIssues(parsed.error)}`);
  const env = parsed.data;
  if ((env.version ?? 0) > 0) {
    throw new InvalidError(
      `configuration protocol version mismatch: version ${env.version} is not supported (expected 0)`,
    );
  }
  return env;
}

/**
 * Decodes one frame. Accepts `{"type":"PROXY","data":{"type":ORDER,"data":…}}` (code),
 * `{"data":{"type":ORDER,"data":…}}` and `{"data":{"type":ORDER, …fields}}` (README), and
 * `{"type":ORDER,"data":…}` where ORDER is a worker order. A name that is both a command and an
 * order (STATUS) is an order inside `data` and a command at the top level.
 */
export function decodeRequest(value: unknown): SozuRequest {
  const env = parseEnvelope(value);
  const base = { id: env.id, workerId: env.worker_id ?? null };
  if (env.type === "PROXY" || env.type === null || env.type === undefined) {
    const data = env.data;
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new InvalidError(
        env.type === "PROXY"
          ? "invalid PROXY request: data: expected an object {type, data}"
          : "invalid request: type: missing",
      );
    }
    const { type, data: inner, ...rest } = data as Record<string, unknown>;
    if (typeof type !== "string") {
      throw new InvalidError("invalid request: data.type: expected a string");
    }
    const payload = inner !== undefined ? inner : Object.keys(rest).length > 0 ? rest : undefined;
    if (env.type !== "PROXY" && !SOZU_ORDERS.has(type) && SOZU_COMMANDS.has(type)) {
      return { ...base, type, order: null, payload };
    }
    return { ...base, type: "PROXY", order: type, payload };
  }
  if (!SOZU_COMMANDS.has(env.type) && SOZU_ORDERS.has(env.type)) {
    return { ...base, type: "PROXY", order: env.type, payload: env.data };
  }
  return { ...base, type: env.type, order: null, payload: env.data };
}

// ---------------------------------------------------------------- reply envelope

/** Reply status, upper case as on the real wire. */
export type SozuReplyStatus = "OK" | "PROCESSING" | "ERROR";

/** A reply (`CommandResponse`, code shape). */
export interface CommandResponse {
  id: string;
  version: 0;
  status: SozuReplyStatus;
  message: string;
  data: { type: string; data: unknown } | null;
}

/** Builds a reply. */
export function response(
  id: string,
  status: SozuReplyStatus,
  message = "",
  data: { type: string; data: unknown } | null = null,
): CommandResponse {
  return { id, version: 0, status, message, data };
}
