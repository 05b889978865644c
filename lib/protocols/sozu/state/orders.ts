/**
 * Worker orders in canonical form (sozu 0.13 code shapes) and the parser that turns either wire
 * shape into one. README shapes that leave a listener out get the configured default listener.
 */
import type { z } from "zod";
import { InvalidError, NotFoundError } from "../../../core/mod.ts";
import {
  addCertificateCode,
  type Application,
  applicationInput,
  type Backend,
  backendCode,
  backendReadme,
  type CertificateAndKey,
  certificateAndKey,
  frontendInput,
  frontInput,
  hasKey,
  type HttpFront,
  type HttpListener,
  httpListenerInput,
  type HttpsListener,
  httpsListenerInput,
  joinAddress,
  listenerRefInput,
  removeApplicationInput,
  removeBackendCode,
  removeBackendReadme,
  removeCertificateCode,
  replaceCertificateInput,
  type TcpFront,
  tcpFrontInput,
  type TcpListener,
  tcpListenerInput,
} from "../order_schemas.ts";
import { canonicalOrderName, certificateFingerprint, parseOrThrow } from "../schemas.ts";
import { certificateFacts } from "./certificates.ts";
import { frontendJson, frontendOrderName, frontFromFrontend, isPlainFront } from "./frontends.ts";

/** The front orders. */
export type FrontOrderType =
  | "ADD_HTTP_FRONT"
  | "REMOVE_HTTP_FRONT"
  | "ADD_HTTPS_FRONT"
  | "REMOVE_HTTPS_FRONT";

/** A listener reference. */
export interface ListenerRef {
  front: string;
  proxy: "http" | "https" | "tcp";
}

/** A worker order that changes the configuration state. */
export type StateOrder =
  | { type: "ADD_APPLICATION"; data: Application }
  | { type: "REMOVE_APPLICATION"; data: string }
  | { type: FrontOrderType; data: HttpFront }
  | { type: "ADD_BACKEND"; data: Backend }
  | { type: "REMOVE_BACKEND"; data: { app_id: string; backend_id: string | null; address: string } }
  | {
    type: "ADD_CERTIFICATE";
    data: { front: string; certificate: CertificateAndKey; names: string[] };
  }
  | {
    type: "REPLACE_CERTIFICATE";
    data: {
      front: string;
      new_certificate: CertificateAndKey;
      old_fingerprint: string;
      old_names: string[];
      new_names: string[];
    };
  }
  | {
    type: "REMOVE_CERTIFICATE";
    data: { front: string | null; fingerprint: string; names: string[] };
  }
  | { type: "ADD_HTTP_LISTENER"; data: HttpListener }
  | { type: "ADD_HTTPS_LISTENER"; data: HttpsListener }
  | { type: "ADD_TCP_LISTENER"; data: TcpListener }
  | { type: "ADD_TCP_FRONT" | "REMOVE_TCP_FRONT"; data: TcpFront }
  | { type: "REMOVE_LISTENER"; data: ListenerRef }
  | { type: "ACTIVATE_LISTENER"; data: ListenerRef & { from_scm: boolean } }
  | { type: "DEACTIVATE_LISTENER"; data: ListenerRef & { to_scm: boolean } };

/** What the parser needs to fill in README shapes. */
export interface ListenerDefaults {
  /** The default listener of a protocol, or null when there is none. */
  defaultListener(proxy: "http" | "https"): string | null;
  /** The listener of a protocol bound on `port`, when exactly one is. */
  listenerByPort(proxy: "http" | "https", port: number): string | null;
}

function parse<T>(schema: z.ZodType<T>, payload: unknown, order: string): T {
  return parseOrThrow(schema, payload, order, "data");
}

function listenerFor(
  given: string | null | undefined,
  proxy: "http" | "https",
  defaults: ListenerDefaults,
  order: string,
  port?: number | null,
): string {
  if (given) return given;
  if (port !== null && port !== undefined) {
    const byPort = defaults.listenerByPort(proxy, port);
    if (byPort) return byPort;
    throw new NotFoundError(`${order}: no ${proxy.toUpperCase()} listener on port ${port}`);
  }
  const fallback = defaults.defaultListener(proxy);
  if (fallback) return fallback;
  throw new NotFoundError(
    `${order}: no listener address given and no default ${proxy.toUpperCase()} listener exists`,
  );
}

function parseFront(
  type: FrontOrderType,
  payload: unknown,
  defaults: ListenerDefaults,
): StateOrder {
  const proxy = type.endsWith("HTTPS_FRONT") ? "https" : "http";
  if (hasKey(payload, "route")) {
    const name = frontendOrderName(type);
    const f = parse(frontendInput, payload, name);
    return { type, data: frontFromFrontend(f, listenerFor(f.address, proxy, defaults, name)) };
  }
  const f = parse(frontInput, payload, type);
  const front: HttpFront = {
    app_id: f.app_id,
    address: listenerFor(f.address, proxy, defaults, type, f.port),
    hostname: f.hostname,
    path_begin: f.path_begin ?? "",
  };
  // The 0.10 (and README) `fingerprint` of an HTTPS front is accepted and ignored: since 0.11
  // the certificate is chosen by SNI, the front routes by Host.
  return { type, data: front };
}

/** A backend payload in the code shape (`address`) or the README's (`ip_address` + `port`). */
function backendPayload<
  C extends { address: string },
  R extends { ip_address: string; port: number },
>(
  payload: unknown,
  type: string,
  code: z.ZodType<C>,
  readme: z.ZodType<R>,
): { fields: C | R; address: string } {
  if (hasKey(payload, "ip_address")) {
    const r = parse(readme, payload, type);
    return { fields: r, address: joinAddress(r.ip_address, r.port, "data.ip_address") };
  }
  const c = parse(code, payload, type);
  return { fields: c, address: c.address };
}

function parseAddBackend(payload: unknown): StateOrder {
  const type = "ADD_BACKEND";
  const { fields: b, address } = backendPayload(payload, type, backendCode, backendReadme);
  return {
    type,
    data: {
      app_id: b.app_id,
      backend_id: b.backend_id ?? `${b.app_id}-${address}`,
      address,
      sticky_id: b.sticky_id ?? null,
      load_balancing_parameters: b.load_balancing_parameters ?? null,
      backup: b.backup ?? null,
    },
  };
}

function parseRemoveBackend(payload: unknown): StateOrder {
  const type = "REMOVE_BACKEND";
  const { fields: b, address } = backendPayload(
    payload,
    type,
    removeBackendCode,
    removeBackendReadme,
  );
  return { type, data: { app_id: b.app_id, backend_id: b.backend_id ?? null, address } };
}

function parseAddCertificate(payload: unknown, defaults: ListenerDefaults): StateOrder {
  const type = "ADD_CERTIFICATE";
  const readme = hasKey(payload, "certificate") &&
    typeof (payload as { certificate: unknown }).certificate === "string";
  let certificate: CertificateAndKey;
  let given: string | null | undefined = null;
  let listed: string[] = [];
  if (readme) {
    certificate = parse(certificateAndKey, payload, type);
  } else {
    const c = parse(addCertificateCode, payload, type);
    certificate = c.certificate;
    given = c.front;
    listed = c.names ?? [];
  }
  const names = listed.length > 0 ? listed : certificateFacts(certificate.certificate).names;
  return { type, data: { front: listenerFor(given, "https", defaults, type), certificate, names } };
}

function parseReplaceCertificate(payload: unknown, defaults: ListenerDefaults): StateOrder {
  const type = "REPLACE_CERTIFICATE";
  const r = parse(replaceCertificateInput, payload, type);
  const newNames = r.new_names && r.new_names.length > 0
    ? r.new_names
    : certificateFacts(r.new_certificate.certificate).names;
  return {
    type,
    data: {
      front: listenerFor(r.front, "https", defaults, type),
      new_certificate: r.new_certificate,
      old_fingerprint: r.old_fingerprint,
      old_names: r.old_names ?? [],
      new_names: newNames,
    },
  };
}

function parseRemoveCertificate(payload: unknown): StateOrder {
  const type = "REMOVE_CERTIFICATE";
  if (typeof payload === "string") {
    const fingerprint = parse(certificateFingerprint, payload, type);
    return { type, data: { front: null, fingerprint, names: [] } };
  }
  const r = parse(removeCertificateCode, payload, type);
  return {
    type,
    data: { front: r.front ?? null, fingerprint: r.fingerprint, names: r.names ?? [] },
  };
}

function parseListenerOrder(type: string, payload: unknown): StateOrder | null {
  switch (type) {
    case "ADD_HTTP_LISTENER":
      return { type, data: parse(httpListenerInput, payload, type) };
    case "ADD_HTTPS_LISTENER":
      return { type, data: parse(httpsListenerInput, payload, type) };
    case "ADD_TCP_LISTENER":
      return { type, data: parse(tcpListenerInput, payload, type) };
    case "ADD_TCP_FRONT":
    case "REMOVE_TCP_FRONT":
      return { type, data: parse(tcpFrontInput, payload, type) };
    case "REMOVE_LISTENER": {
      const l = parse(listenerRefInput, payload, type);
      return { type, data: { front: l.front, proxy: l.proxy } };
    }
    case "ACTIVATE_LISTENER": {
      const l = parse(listenerRefInput, payload, type);
      return { type, data: { front: l.front, proxy: l.proxy, from_scm: l.from_scm } };
    }
    case "DEACTIVATE_LISTENER": {
      const l = parse(listenerRefInput, payload, type);
      return { type, data: { front: l.front, proxy: l.proxy, to_scm: l.to_scm } };
    }
  }
  return null;
}

/** Parses a state-changing order's payload (either shape) into canonical form. */
export function parseStateOrder(
  name: string,
  payload: unknown,
  defaults: ListenerDefaults,
): StateOrder {
  const type = canonicalOrderName(name);
  switch (type) {
    case "ADD_APPLICATION":
      return { type, data: parse(applicationInput, payload, type) };
    case "REMOVE_APPLICATION":
      return { type, data: parse(removeApplicationInput, payload, type) };
    case "ADD_HTTP_FRONT":
    case "REMOVE_HTTP_FRONT":
    case "ADD_HTTPS_FRONT":
    case "REMOVE_HTTPS_FRONT":
      return parseFront(type, payload, defaults);
    case "ADD_BACKEND":
      return parseAddBackend(payload);
    case "REMOVE_BACKEND":
      return parseRemoveBackend(payload);
    case "ADD_CERTIFICATE":
      return parseAddCertificate(payload, defaults);
    case "REPLACE_CERTIFICATE":
      return parseReplaceCertificate(payload, defaults);
    case "REMOVE_CERTIFICATE":
      return parseRemoveCertificate(payload);
  }
  const listener = parseListenerOrder(type, payload);
  if (listener) return listener;
  throw new InvalidError(`unknown order type "${name}"`);
}

/**
 * The wire form of a canonical order (what SAVE_STATE writes): a front with v0.14 rule fields is
 * written as the v0.14 order (`ADD_HTTP_FRONTEND` with `route` and `path`).
 */
export function orderPayload(order: StateOrder): { type: string; data: unknown } {
  switch (order.type) {
    case "ADD_HTTP_FRONT":
    case "REMOVE_HTTP_FRONT":
    case "ADD_HTTPS_FRONT":
    case "REMOVE_HTTPS_FRONT":
      if (!isPlainFront(order.data)) {
        return { type: frontendOrderName(order.type), data: frontendJson(order.data) };
      }
  }
  return { type: order.type, data: order.data };
}
