/**
 * The command socket's wire format: the request envelope (both the README's shapes and the code's
 * `"type":"PROXY"` wrapper), the reply envelope (code shape, upper-case statuses) and zod schemas
 * for every payload. Everything here is pure; orders come out canonical (0.13 code shapes).
 */
import { z } from "zod";
import { SozuError } from "./errors.ts";
import { isSocketAddress } from "./address.ts";

export { isSocketAddress };

/** Largest accepted frame, as sozu's default command buffer. */
export const MAX_FRAME = 1_000_000;

/** Renders zod issues as `field: problem; field: problem`. */
export function describeIssues(error: z.ZodError, prefix = ""): string {
  return error.issues.slice(0, 4).map((issue) => {
    const path = [prefix, ...issue.path.map(String)].filter((p) => p !== "").join(".");
    return `${path || "message"}: ${issue.message}`;
  }).join("; ");
}

/** Parses with a schema or throws a {@linkcode SozuError} naming the fields. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, what: string, at: string): T {
  const result = schema.safeParse(value);
  if (!result.success) throw new SozuError(`invalid ${what}: ${describeIssues(result.error, at)}`);
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

/** SHA-256 fingerprint as lower-case hex. */
export const fingerprint = z.string().regex(/^[0-9a-fA-F]{64}$/, {
  message: "expected 64 hexadecimal digits (SHA-256)",
}).transform((s) => s.toLowerCase());

const rawResponse = z.string().max(65536);

// ---------------------------------------------------------------- canonical payloads

/** Load-balancing policies (0.13 names). */
export const loadBalancing = z.enum(["round_robin", "random", "least_loaded", "power_of_two"]);

const POLICY_ALIASES: Record<string, z.output<typeof loadBalancing>> = {
  roundrobin: "round_robin",
  random: "random",
  leastconnections: "least_loaded",
  leastloaded: "least_loaded",
  poweroftwo: "power_of_two",
};

/** A policy in any era's spelling (`roundrobin`, `ROUND_ROBIN`, `leastconnections`, …). */
const anyPolicy = z.string().transform((value, ctx) => {
  const policy = POLICY_ALIASES[value.toLowerCase().replace(/[_-]/g, "")];
  if (policy) return policy;
  ctx.addIssue({
    code: "custom",
    message: `expected one of round_robin, random, least_loaded, power_of_two, got ${
      JSON.stringify(value)
    }`,
  });
  return z.NEVER;
});

/** A case-insensitive enum (serde renames differ between sozu versions). */
function looseEnum<const T extends readonly [string, ...string[]]>(values: T, upper: boolean) {
  return z.string().transform((s) => upper ? s.toUpperCase() : s.toLowerCase()).pipe(
    z.enum(values),
  );
}

/** ADD_APPLICATION payload (0.11 `load_balancing_policy` and 0.13 `load_balancing` both accepted). */
export const applicationInput = z.object({
  app_id: identifier,
  sticky_session: z.boolean().nullish(),
  https_redirect: z.boolean().nullish(),
  proxy_protocol: looseEnum(["EXPECT_HEADER", "SEND_HEADER", "RELAY_HEADER"], true).nullish(),
  load_balancing_policy: anyPolicy.nullish(),
  load_balancing: anyPolicy.nullish(),
  load_metric: looseEnum(["connections", "requests", "connection_time"], false).nullish(),
  answer_503: rawResponse.nullish(),
}).transform((a) => ({
  app_id: a.app_id,
  sticky_session: a.sticky_session ?? false,
  https_redirect: a.https_redirect ?? false,
  proxy_protocol: a.proxy_protocol ?? null,
  load_balancing: a.load_balancing ?? a.load_balancing_policy ?? "round_robin",
  load_metric: a.load_metric ?? null,
  answer_503: a.answer_503 ?? null,
}));
/** An application (sozu 0.13 shape). */
export type Application = z.output<typeof applicationInput>;

/** HttpFront (code shape; `address` resolved). */
export interface HttpFront {
  app_id: string;
  address: string;
  hostname: string;
  path_begin: string;
}

/** The code shape of a front; `address` may be missing in the README's shape. */
export const frontInput = z.object({
  app_id: identifier,
  address: socketAddress.nullish(),
  hostname,
  path_begin: pathBegin.nullish(),
  fingerprint: fingerprint.nullish(),
  port: z.number().int().min(1).max(65535).nullish(),
});
/** A front as received: `address` optional, maybe a README `fingerprint` or `port`. */
export type FrontInput = z.output<typeof frontInput>;

/** Backend (code shape). */
export interface Backend {
  app_id: string;
  backend_id: string;
  address: string;
  sticky_id: string | null;
  load_balancing_parameters: { weight: number } | null;
  backup: boolean | null;
}

const backendCommon = {
  app_id: identifier,
  sticky_id: identifier.nullish(),
  load_balancing_parameters: z.object({ weight: z.number().int().min(0).max(255) }).nullish(),
  backup: z.boolean().nullish(),
};

/** ADD_BACKEND, code shape (`backend_id` + `address`). */
export const backendCode = z.object({
  ...backendCommon,
  backend_id: identifier,
  address: socketAddress,
});

/** ADD_BACKEND, README shape (`ip_address` + `port`). */
export const backendReadme = z.object({
  ...backendCommon,
  backend_id: identifier.nullish(),
  ip_address: z.string(),
  port: z.number().int().min(1).max(65535),
});

/** REMOVE_BACKEND, code shape. */
export const removeBackendCode = z.object({
  app_id: identifier,
  backend_id: identifier,
  address: socketAddress,
});

/** REMOVE_BACKEND, README shape. */
export const removeBackendReadme = z.object({
  app_id: identifier,
  backend_id: identifier.nullish(),
  ip_address: z.string(),
  port: z.number().int().min(1).max(65535),
});

/** Whether a payload is an object carrying `key` (picks the README shape). */
export function hasKey(payload: unknown, key: string): boolean {
  return typeof payload === "object" && payload !== null && key in payload;
}

/** "ip" + port → "ip:port" (IPv6 bracketed), or throws. */
export function joinAddress(ip: string, port: number, field: string): string {
  const address = ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
  if (!isSocketAddress(address)) {
    throw new SozuError(
      `invalid address: ${field}: expected an IP address, got ${JSON.stringify(ip)}`,
    );
  }
  return address;
}

/** A certificate with its key (code shape). */
export const certificateAndKey = z.object({
  certificate: z.string().min(1).max(200_000),
  certificate_chain: z.array(z.string().max(200_000)).max(16).nullish().transform((c) => c ?? []),
  key: z.string().min(1).max(200_000),
  versions: z.array(z.string()).nullish(),
});
/** A certificate with its key. */
export type CertificateAndKey = z.output<typeof certificateAndKey>;

const names = z.array(hostname).max(1000);

/** ADD_CERTIFICATE, code shape `{front, certificate, names}`. */
export const addCertificateCode = z.object({
  front: socketAddress.nullish(),
  certificate: certificateAndKey,
  names: names.nullish(),
});

/** REMOVE_CERTIFICATE, code shape `{front, fingerprint, names?}` (README: a bare fingerprint). */
export const removeCertificateCode = z.object({
  front: socketAddress.nullish(),
  fingerprint,
  names: names.nullish(),
});

/** REPLACE_CERTIFICATE. */
export const replaceCertificateInput = z.object({
  front: socketAddress.nullish(),
  new_certificate: certificateAndKey,
  old_fingerprint: fingerprint,
  old_names: names.nullish(),
  new_names: names.nullish(),
});

const seconds = z.number().int().min(1).max(86_400);

const listenerCommon = {
  front: socketAddress.nullish(),
  address: socketAddress.nullish(),
  public_address: socketAddress.nullish(),
  answer_404: rawResponse.nullish(),
  answer_503: rawResponse.nullish(),
  expect_proxy: z.boolean().nullish(),
  sticky_name: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/).nullish(),
  front_timeout: seconds.nullish(),
  back_timeout: seconds.nullish(),
  connect_timeout: seconds.nullish(),
  request_timeout: seconds.nullish(),
};

function listenerDefaults(l: {
  front?: string | null | undefined;
  address?: string | null | undefined;
  public_address?: string | null | undefined;
  answer_404?: string | null | undefined;
  answer_503?: string | null | undefined;
  expect_proxy?: boolean | null | undefined;
  sticky_name?: string | null | undefined;
  front_timeout?: number | null | undefined;
  back_timeout?: number | null | undefined;
  connect_timeout?: number | null | undefined;
  request_timeout?: number | null | undefined;
}) {
  return {
    front: (l.front ?? l.address)!,
    public_address: l.public_address ?? null,
    answer_404: l.answer_404 ?? "",
    answer_503: l.answer_503 ?? "",
    expect_proxy: l.expect_proxy ?? false,
    sticky_name: l.sticky_name ?? "SOZUBALANCEID",
    front_timeout: l.front_timeout ?? 60,
    back_timeout: l.back_timeout ?? 30,
    connect_timeout: l.connect_timeout ?? 3,
    request_timeout: l.request_timeout ?? 10,
  };
}

const hasAddress = (l: { front?: unknown; address?: unknown }) =>
  (l.front ?? l.address) !== null && (l.front ?? l.address) !== undefined;
const needAddress = { message: "front: expected the listener address", path: ["front"] };

/** ADD_HTTP_LISTENER. */
export const httpListenerInput = z.object(listenerCommon).refine(hasAddress, needAddress)
  .transform(listenerDefaults);
/** An HTTP listener (0.13 shape). */
export type HttpListener = z.output<typeof httpListenerInput>;

/** ADD_HTTPS_LISTENER. */
export const httpsListenerInput = z.object({
  ...listenerCommon,
  versions: z.array(z.string()).nullish(),
  cipher_list: z.string().nullish(),
  rustls_cipher_list: z.array(z.string()).nullish(),
  tls_provider: z.string().nullish(),
  certificate: z.string().nullish(),
  certificate_chain: z.array(z.string()).nullish(),
  key: z.string().nullish(),
}).refine(hasAddress, needAddress).transform((l) => ({
  ...listenerDefaults(l),
  versions: l.versions ?? ["TLSv1.2", "TLSv1.3"],
  cipher_list: l.cipher_list ?? "",
  rustls_cipher_list: l.rustls_cipher_list ?? [],
  tls_provider: l.tls_provider ?? "rustls",
  certificate: l.certificate ?? null,
  certificate_chain: l.certificate_chain ?? [],
  key: l.key ?? null,
}));
/** An HTTPS listener (0.13 shape). */
export type HttpsListener = z.output<typeof httpsListenerInput>;

const proxyKind = z.string().transform((s) => s.toLowerCase()).pipe(
  z.enum(["http", "https", "tcp"]),
);

/** REMOVE/ACTIVATE/DEACTIVATE_LISTENER (`front` or v0.14 `address`). */
export const listenerRefInput = z.object({
  front: socketAddress.nullish(),
  address: socketAddress.nullish(),
  proxy: proxyKind,
  from_scm: z.boolean().nullish(),
  to_scm: z.boolean().nullish(),
}).refine(hasAddress, needAddress).transform((l) => ({
  front: (l.front ?? l.address)!,
  proxy: l.proxy,
  from_scm: l.from_scm ?? false,
  to_scm: l.to_scm ?? false,
}));

/** REMOVE_APPLICATION: bare id (0.13), `{app_id}` or `{cluster_id}` (0.14). */
export const removeApplicationInput = z.union([
  identifier,
  z.object({ app_id: identifier }).transform((o) => o.app_id),
  z.object({ cluster_id: identifier }).transform((o) => o.cluster_id),
]);

/** QUERY payload. */
export const queryInput = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("APPLICATIONS"),
    data: z.discriminatedUnion("type", [
      z.object({ type: z.literal("APP_ID"), data: identifier }),
      z.object({
        type: z.literal("DOMAIN"),
        data: z.object({ hostname, path_begin: pathBegin.nullish() }),
      }),
    ]),
  }),
  z.object({ type: z.literal("APPLICATIONS_HASHES") }),
  z.object({
    type: z.literal("CERTIFICATES"),
    data: z.discriminatedUnion("type", [
      z.object({ type: z.literal("ALL") }),
      z.object({ type: z.literal("DOMAIN"), data: hostname }),
      z.object({
        type: z.literal("FINGERPRINT"),
        data: z.union([fingerprint, z.array(z.number().int().min(0).max(255)).length(32)]),
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

/** LIST_FRONTENDS payload (v0.14). */
export const listFrontendsInput = z.object({
  http: z.boolean().nullish(),
  https: z.boolean().nullish(),
  tcp: z.boolean().nullish(),
  domain: z.string().max(253).nullish(),
}).nullish();

// ---------------------------------------------------------------- envelope

/** The request envelope. `worker_id` is a number in code and a string in the README. */
export const envelopeSchema = z.object({
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
export interface Request {
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

/** Which names are top-level commands and which are worker orders. */
export interface RequestKinds {
  isCommand(name: string): boolean;
  isOrder(name: string): boolean;
}

/**
 * Decodes one frame. Accepts `{"type":"PROXY","data":{"type":ORDER,"data":…}}` (code),
 * `{"data":{"type":ORDER,"data":…}}` and `{"data":{"type":ORDER, …fields}}` (README), and
 * `{"type":ORDER,"data":…}` where ORDER is a worker order.
 */
export function decodeRequest(value: unknown, kinds: RequestKinds): Request {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SozuError("invalid request: expected a JSON object");
  }
  const parsed = envelopeSchema.safeParse(value);
  if (!parsed.success) throw new SozuError(`invalid request: ${describeIssues(parsed.error)}`);
  const env = parsed.data;
  if ((env.version ?? 0) > 0) {
    throw new SozuError(
      `configuration protocol version mismatch: version ${env.version} is not supported (expected 0)`,
    );
  }
  const base = { id: env.id, workerId: env.worker_id ?? null };
  if (env.type === "PROXY" || env.type === null || env.type === undefined) {
    const data = env.data;
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw new SozuError(
        env.type === "PROXY"
          ? "invalid PROXY request: data: expected an object {type, data}"
          : "invalid request: type: missing",
      );
    }
    const { type, data: inner, ...rest } = data as Record<string, unknown>;
    if (typeof type !== "string") {
      throw new SozuError("invalid request: data.type: expected a string");
    }
    const payload = inner !== undefined ? inner : Object.keys(rest).length > 0 ? rest : undefined;
    if (env.type !== "PROXY" && !kinds.isOrder(type) && kinds.isCommand(type)) {
      return { ...base, type, order: null, payload };
    }
    return { ...base, type: "PROXY", order: type, payload };
  }
  if (!kinds.isCommand(env.type) && kinds.isOrder(env.type)) {
    return { ...base, type: "PROXY", order: env.type, payload: env.data };
  }
  return { ...base, type: env.type, order: null, payload: env.data };
}
