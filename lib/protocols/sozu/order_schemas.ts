/**
 * The worker orders' payloads as zod schemas, in every shape sozu versions and its README use;
 * each comes out in canonical form (sozu 0.13 code shapes). Pure; a refusal is a core
 * {@linkcode InvalidError}.
 */
import { z } from "zod";
import { InvalidError } from "../../core/mod.ts";
import {
  certificateFingerprint,
  hostname,
  identifier,
  isSocketAddress,
  pathBegin,
  socketAddress,
} from "./schemas.ts";

const rawResponse = z.string().max(65536);

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

/**
 * v0.14 renamed `app_id` to `cluster_id`: a payload that has only `cluster_id` is read as if it
 * carried `app_id` (the error of a payload with neither names `app_id`).
 */
function withClusterId<T extends z.ZodType>(schema: T) {
  return z.preprocess((value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
    const o = value as Record<string, unknown>;
    if ("app_id" in o || !("cluster_id" in o)) return value;
    const { cluster_id, ...rest } = o;
    return { ...rest, app_id: cluster_id };
  }, schema);
}

/** ADD_APPLICATION payload (0.11 `load_balancing_policy` and 0.13 `load_balancing` both accepted). */
export const applicationInput = withClusterId(
  z.object({
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
  })),
);
/** An application (sozu 0.13 shape). */
export type Application = z.output<typeof applicationInput>;

/**
 * A front in canonical form: the 0.13 code shape (`address` resolved), plus sozu 0.14's rule
 * fields, present only when they differ from a 0.13 front's (prefix path, tree, any method).
 */
export interface HttpFront {
  /** The application requests go to; null for a v0.14 `route: "DENY"` front (401). */
  app_id: string | null;
  address: string;
  hostname: string;
  /** The path pattern (a prefix unless `path_rule` says otherwise). */
  path_begin: string;
  path_rule?: "EQUALS" | "REGEX";
  method?: string;
  position?: "PRE" | "POST";
  tags?: Record<string, string>;
}

/** The code shape of a front; `address` may be missing in the README's shape. */
export const frontInput = withClusterId(z.object({
  app_id: identifier,
  address: socketAddress.nullish(),
  hostname,
  path_begin: pathBegin.nullish(),
  fingerprint: certificateFingerprint.nullish(),
  port: z.number().int().min(1).max(65535).nullish(),
}));

/** A path regex of a v0.14 front: compiled once here, so a bad one is refused naming the field. */
const pathRegex = z.string().min(1).max(1024).superRefine((value, ctx) => {
  try {
    new RegExp(value);
  } catch (error) {
    ctx.addIssue({
      code: "custom",
      message: `invalid regular expression: ${(error as Error).message}`,
    });
  }
});

/** v0.14 `PathRule`: exactly one of `{PREFIX}`, `{EQUALS}`, `{REGEX}`. */
const pathRule = z.object({
  PREFIX: pathBegin.optional(),
  EQUALS: pathBegin.optional(),
  REGEX: pathRegex.optional(),
}).strict().refine((p) => Object.keys(p).length === 1, {
  message: "expected exactly one of PREFIX, EQUALS, REGEX",
});

/** v0.14 `HttpFrontend` (`ADD_HTTP_FRONTEND`, …); `address` may be left to the default listener. */
export const frontendInput = z.object({
  route: z.union([z.literal("DENY"), z.object({ CLUSTER_ID: identifier })], {
    error: 'expected "DENY" or {"CLUSTER_ID": id}',
  }),
  address: socketAddress.nullish(),
  hostname,
  path: pathRule.nullish(),
  method: z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/, {
    message: "expected an HTTP method token",
  }).nullish(),
  position: looseEnum(["PRE", "TREE", "POST"], true).nullish(),
  tags: z.record(z.string().max(256), z.string().max(4096)).nullish(),
});
/** A v0.14 front as received. */
export type FrontendInput = z.output<typeof frontendInput>;
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
export const backendCode = withClusterId(z.object({
  ...backendCommon,
  backend_id: identifier,
  address: socketAddress,
}));

/** ADD_BACKEND, README shape (`ip_address` + `port`). */
export const backendReadme = withClusterId(z.object({
  ...backendCommon,
  backend_id: identifier.nullish(),
  ip_address: z.string(),
  port: z.number().int().min(1).max(65535),
}));

/** REMOVE_BACKEND, code shape. */
export const removeBackendCode = withClusterId(z.object({
  app_id: identifier,
  backend_id: identifier,
  address: socketAddress,
}));

/** REMOVE_BACKEND, README shape. */
export const removeBackendReadme = withClusterId(z.object({
  app_id: identifier,
  backend_id: identifier.nullish(),
  ip_address: z.string(),
  port: z.number().int().min(1).max(65535),
}));

/** Whether a payload is an object carrying `key` (picks the README shape). */
export function hasKey(payload: unknown, key: string): boolean {
  return typeof payload === "object" && payload !== null && key in payload;
}

/** "ip" + port → "ip:port" (IPv6 bracketed), or throws. */
export function joinAddress(ip: string, port: number, field: string): string {
  const address = ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
  if (!isSocketAddress(address)) {
    throw new InvalidError(
      `invalid address: ${field}: expected an IP address, got ${JSON.stringify(ip)}`,
    );
  }
  return address;
}

/** TLS versions in sozu's spelling (serde renames of `TlsVersion`). */
export const TLS_VERSIONS = ["SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] as const;
const tlsVersion = z.enum(TLS_VERSIONS);

/** A certificate with its key (code shape). */
export const certificateAndKey = z.object({
  certificate: z.string().min(1).max(200_000),
  certificate_chain: z.array(z.string().max(200_000)).max(16).nullish().transform((c) => c ?? []),
  key: z.string().min(1).max(200_000),
  versions: z.array(tlsVersion).nullish(),
});
/** A certificate with its key. */
export type CertificateAndKey = z.output<typeof certificateAndKey>;

const names = z.array(hostname).max(1000);

/** The listener of a certificate order: `front` (0.10–0.13) or `address` (0.14). */
const certificateListener = {
  front: socketAddress.nullish(),
  address: socketAddress.nullish(),
};

/** ADD_CERTIFICATE, code shape `{front | address, certificate, names, expired_at?}`. */
export const addCertificateCode = z.object({
  ...certificateListener,
  certificate: certificateAndKey,
  names: names.nullish(),
  /** v0.14: an expiry override (a unix time); accepted, the certificate's own date is used. */
  expired_at: z.number().int().nullish(),
}).transform(({ address, ...c }) => ({ ...c, front: c.front ?? address ?? null }));

/** REMOVE_CERTIFICATE, code shape `{front | address, fingerprint, names?}` (README: a bare one). */
export const removeCertificateCode = z.object({
  ...certificateListener,
  fingerprint: certificateFingerprint,
  names: names.nullish(),
}).transform(({ address, ...c }) => ({ ...c, front: c.front ?? address ?? null }));

/** REPLACE_CERTIFICATE (`front` or v0.14 `address`; v0.14 `new_expired_at` accepted). */
export const replaceCertificateInput = z.object({
  ...certificateListener,
  new_certificate: certificateAndKey,
  old_fingerprint: certificateFingerprint,
  old_names: names.nullish(),
  new_names: names.nullish(),
  new_expired_at: z.number().int().nullish(),
}).transform(({ address, ...c }) => ({ ...c, front: c.front ?? address ?? null }));

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
  versions: z.array(tlsVersion).max(6).nullish(),
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

/** ADD_TCP_LISTENER (0.13 TcpListener: `front` or v0.14 `address`). */
export const tcpListenerInput = z.object({
  front: socketAddress.nullish(),
  address: socketAddress.nullish(),
  public_address: socketAddress.nullish(),
  expect_proxy: z.boolean().nullish(),
  front_timeout: seconds.nullish(),
  back_timeout: seconds.nullish(),
  connect_timeout: seconds.nullish(),
}).refine(hasAddress, needAddress).transform((l) => ({
  front: (l.front ?? l.address)!,
  public_address: l.public_address ?? null,
  expect_proxy: l.expect_proxy ?? false,
  front_timeout: l.front_timeout ?? 60,
  back_timeout: l.back_timeout ?? 30,
  connect_timeout: l.connect_timeout ?? 3,
}));
/** A TCP listener (0.13 shape). */
export type TcpListener = z.output<typeof tcpListenerInput>;

/** ADD_TCP_FRONT / REMOVE_TCP_FRONT: `{app_id, address}` (v0.14 `{cluster_id, address, tags}`). */
export const tcpFrontInput = z.object({
  app_id: identifier.nullish(),
  cluster_id: identifier.nullish(),
  address: socketAddress,
  tags: z.record(z.string(), z.string()).nullish(),
}).refine((f) => (f.app_id ?? f.cluster_id) != null, {
  message: "app_id: expected the application id",
  path: ["app_id"],
}).transform((f) => ({ app_id: (f.app_id ?? f.cluster_id)!, address: f.address }));
/** A TCP front (0.13 shape). */
export type TcpFront = z.output<typeof tcpFrontInput>;

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
