/**
 * Planning: each order is checked against the {@linkcode ConfigTables} without changing them, and
 * becomes a {@linkcode Plan} — the data-plane orders to apply first and a commit that changes the
 * tables — so a refused order never half-applies. Refusals are core's neutral errors.
 */
import type { ProxyOrder } from "../../../backends/http_proxy/mod.ts";
import { ConflictError, InvalidError, NotFoundError } from "../../../core/mod.ts";
import type { Application, Backend, CertificateAndKey, HttpFront } from "../order_schemas.ts";
import type { ListenerRef } from "./orders.ts";
import {
  backendOrder,
  certificateSpec,
  clusterOrder,
  frontOrder,
  listenerSpec,
  servedVersions,
} from "./proxy_orders.ts";
import { backendKey, type ConfigTables, frontKey, type ListenerEntry } from "./tables.ts";

/** A checked order, ready to commit. */
export interface Plan {
  /** False when the order would change nothing. */
  changed: boolean;
  /** Note for the OK reply ("" when none). */
  message: string;
  /** Also logged as a warning when the plan commits (an expired certificate). */
  warning?: string;
  /** Orders the data plane must apply first. */
  proxy: ProxyOrder[];
  /** Applies the order to the state. */
  commit(): void;
}

/** The plan of an order that changes nothing. */
export const NOTHING: Plan = { changed: false, message: "", proxy: [], commit: () => {} };

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** A front's host and path rule, for messages (`example.com/api`, `example.com EQUALS /x`). */
function describeFront(f: HttpFront): string {
  const rule = f.path_rule === undefined ? f.path_begin : ` ${f.path_rule} ${f.path_begin}`;
  const extra = (f.method ? ` ${f.method}` : "") + (f.position ? ` (${f.position})` : "");
  return `${f.hostname}${rule}${extra}`;
}

/** What a front does, for messages. */
function routeText(f: HttpFront): string {
  return f.app_id === null ? "denies (401)" : `routes to application "${f.app_id}"`;
}

/** The listener `ref` names, or a refusal for `order`. */
export function listenerOf(t: ConfigTables, ref: ListenerRef, order: string): ListenerEntry {
  const entry = t.listeners.get(ref.front);
  if (!entry || entry.proxy !== ref.proxy) {
    throw new NotFoundError(`${order}: no ${ref.proxy.toUpperCase()} listener at ${ref.front}`);
  }
  return entry;
}

/**
 * What of a listener's settings the proxy cannot honour, as notes for the OK reply (never a
 * silent OK); throws when an HTTPS listener would offer no version at all.
 */
function listenerNotes(entry: ListenerEntry): string[] {
  const notes: string[] = [];
  if (entry.proxy !== "https") return notes;
  if (entry.config.expect_proxy) {
    notes.push("expect_proxy: served by the node TLS engine (the header precedes TLS)");
  }
  const c = entry.config;
  const served = servedVersions(c.versions);
  if (served.length === 0) {
    throw new InvalidError(
      `invalid listener: data.versions: expected TLSv1.2 and/or TLSv1.3, got ${
        JSON.stringify(c.versions)
      }`,
    );
  }
  const dropped = c.versions.filter((v) => !served.includes(v as never));
  if (dropped.length > 0) {
    notes.push(`versions ${dropped.join(", ")} are not offered (TLS 1.2 and 1.3 only)`);
  }
  if (c.cipher_list !== "") {
    notes.push("cipher_list is not honoured: the TLS engine's own suites are used");
  }
  if (c.rustls_cipher_list.length > 0) {
    notes.push("rustls_cipher_list is not honoured: the TLS engine's own suites are used");
  }
  if (c.tls_provider.toLowerCase() !== "rustls") {
    notes.push(`tls_provider "${c.tls_provider}" is not available: rustls is used`);
  }
  if ((c.certificate === null) !== (c.key === null)) {
    throw new InvalidError("invalid listener: data.certificate and data.key go together");
  }
  return notes;
}

/** ADD_HTTP_LISTENER / ADD_HTTPS_LISTENER / ADD_TCP_LISTENER. */
export function planAddListener(t: ConfigTables, entry: ListenerEntry): Plan {
  const address = entry.config.front;
  const existing = t.listeners.get(address);
  if (existing) {
    if (existing.proxy === entry.proxy && same(existing.config, entry.config)) return NOTHING;
    throw new ConflictError(
      `a ${existing.proxy.toUpperCase()} listener already exists at ${address}: remove it first`,
    );
  }
  const notes = listenerNotes(entry);
  return {
    changed: true,
    message: notes.length > 0 ? `accepted; ${notes.join("; ")}` : "",
    proxy: [{ op: "add_listener", listener: listenerSpec(entry) }],
    commit: () => void t.listeners.set(address, entry),
  };
}

/** REMOVE_LISTENER: only once no front and no certificate uses it. */
export function planRemoveListener(t: ConfigTables, ref: ListenerRef): Plan {
  const order = "REMOVE_LISTENER";
  listenerOf(t, ref, order);
  const fronts = t.frontsOfListener(ref.front);
  if (fronts > 0) {
    throw new ConflictError(
      `${order}: listener ${ref.front} still has ${plural(fronts, "front")}: remove them first`,
    );
  }
  const certs = t.certs.get(ref.front)?.size ?? 0;
  if (certs > 0) {
    throw new ConflictError(
      `${order}: listener ${ref.front} still has ${
        plural(certs, "certificate")
      }: remove them first`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: [{ op: "remove_listener", address: ref.front }],
    commit: () => t.deleteListener(ref.front),
  };
}

/** ACTIVATE_LISTENER / DEACTIVATE_LISTENER. */
export function planActivation(t: ConfigTables, ref: ListenerRef, active: boolean): Plan {
  const entry = listenerOf(t, ref, active ? "ACTIVATE_LISTENER" : "DEACTIVATE_LISTENER");
  if (entry.active === active) return NOTHING;
  return {
    changed: true,
    message: "",
    proxy: [{ op: active ? "activate_listener" : "deactivate_listener", address: ref.front }],
    commit: () => {
      entry.active = active;
    },
  };
}

/** ADD_APPLICATION (an update when it exists with other settings). */
export function planAddApp(t: ConfigTables, app: Application): Plan {
  const existing = t.apps.get(app.app_id);
  if (existing && same(existing, app)) return NOTHING;
  return {
    changed: true,
    message: "",
    proxy: [clusterOrder(app)],
    commit: () => void t.apps.set(app.app_id, app),
  };
}

/** REMOVE_APPLICATION: only once no front and no backend uses it. */
export function planRemoveApp(t: ConfigTables, id: string): Plan {
  const order = "REMOVE_APPLICATION";
  if (!t.apps.has(id)) throw new NotFoundError(`${order}: application "${id}" does not exist`);
  const fronts = t.frontsOfApp(id);
  const backends = t.backends.get(id)?.size ?? 0;
  if (fronts > 0 || backends > 0) {
    throw new ConflictError(
      `${order}: application "${id}" still has ${plural(fronts, "front")} and ${
        plural(backends, "backend")
      }: remove them first`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: [{ op: "remove_cluster", id }],
    commit: () => t.deleteApp(id),
  };
}

/** ADD_HTTP_FRONT / ADD_HTTPS_FRONT (both route by Host; certificates are chosen by SNI). */
export function planAddFront(t: ConfigTables, proxy: "http" | "https", front: HttpFront): Plan {
  const order = proxy === "http" ? "ADD_HTTP_FRONT" : "ADD_HTTPS_FRONT";
  listenerOf(t, { front: front.address, proxy }, order);
  if (front.app_id !== null && !t.apps.has(front.app_id)) {
    throw new NotFoundError(`${order}: application "${front.app_id}" does not exist`);
  }
  const key = frontKey(proxy, front);
  const existing = t.fronts.get(key);
  if (existing) {
    if (same(existing.front, front)) return NOTHING;
    if (existing.front.app_id === front.app_id) {
      // Only the tags differ: an update of the front.
      return {
        changed: true,
        message: "",
        proxy: [],
        commit: () => t.addFront(key, { proxy, front }, existing.front),
      };
    }
    throw new ConflictError(
      `${order}: ${describeFront(front)} on ${front.address} already ${routeText(existing.front)}`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: [frontOrder("add_front", front)],
    commit: () => t.addFront(key, { proxy, front }),
  };
}

/** REMOVE_HTTP_FRONT / REMOVE_HTTPS_FRONT. */
export function planRemoveFront(t: ConfigTables, proxy: "http" | "https", front: HttpFront): Plan {
  const order = proxy === "http" ? "REMOVE_HTTP_FRONT" : "REMOVE_HTTPS_FRONT";
  const key = frontKey(proxy, front);
  const existing = t.fronts.get(key);
  if (!existing || existing.front.app_id !== front.app_id) {
    throw new NotFoundError(
      `${order}: no ${proxy.toUpperCase()} front that ${routeText(front)} at ${
        describeFront(front)
      } on ${front.address}`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: [frontOrder("remove_front", existing.front)],
    commit: () => t.deleteFront(key, front),
  };
}

/** ADD_BACKEND (an update when the same id and address exist). */
export function planAddBackend(t: ConfigTables, backend: Backend): Plan {
  if (!t.apps.has(backend.app_id)) {
    throw new NotFoundError(`ADD_BACKEND: application "${backend.app_id}" does not exist`);
  }
  const existing = t.backends.get(backend.app_id)?.get(backendKey(backend));
  if (existing && same(existing, backend)) return NOTHING;
  return {
    changed: true,
    message: "",
    proxy: [backendOrder(backend)],
    commit: () => t.setBackend(backend),
  };
}

/** REMOVE_BACKEND: by id and address, or (README shape) every backend at the address. */
export function planRemoveBackend(
  t: ConfigTables,
  target: { app_id: string; backend_id: string | null; address: string },
): Plan {
  const map = t.backends.get(target.app_id);
  const matches: [string, Backend][] = [];
  if (map && target.backend_id !== null) {
    const key = backendKey({ backend_id: target.backend_id, address: target.address });
    const b = map.get(key);
    if (b) matches.push([key, b]);
  } else if (map) {
    for (const entry of map) if (entry[1].address === target.address) matches.push(entry);
  }
  if (matches.length === 0) {
    throw new NotFoundError(
      `REMOVE_BACKEND: cannot remove backend: application "${target.app_id}" has no backend ${
        target.backend_id === null ? "" : `"${target.backend_id}" `
      }at ${target.address}`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: matches.map(([, b]) => ({
      op: "remove_backend" as const,
      clusterId: b.app_id,
      backendId: b.backend_id,
      address: b.address,
    })),
    commit: () => t.deleteBackends(target.app_id, matches.map(([key]) => key)),
  };
}

/** ADD_CERTIFICATE: to the listener the order names. Re-adding one it has changes nothing. */
export function planAddCertificate(
  t: ConfigTables,
  front: string,
  certificate: CertificateAndKey,
  names: string[],
): Plan {
  listenerOf(t, { front, proxy: "https" }, "ADD_CERTIFICATE");
  const { spec, warning } = certificateSpec(certificate, names, "data.certificate");
  if (t.certs.get(front)?.has(spec.fingerprint)) return NOTHING;
  return {
    changed: true,
    message: warning ?? "",
    ...(warning ? { warning } : {}),
    proxy: [{ op: "add_certificate", listener: front, certificate: spec }],
    commit: () => t.setCertificate(front, spec.fingerprint, { certificate, names }),
  };
}

/**
 * REPLACE_CERTIFICATE: one data-plane order, so no handshake ever sees the listener without
 * either certificate.
 */
export function planReplaceCertificate(
  t: ConfigTables,
  front: string,
  oldFingerprint: string,
  certificate: CertificateAndKey,
  names: string[],
): Plan {
  const order = "REPLACE_CERTIFICATE";
  listenerOf(t, { front, proxy: "https" }, order);
  if (!t.certs.get(front)?.has(oldFingerprint)) {
    throw new NotFoundError(
      `${order}: no certificate with fingerprint ${oldFingerprint} on listener ${front}`,
    );
  }
  const { spec, warning } = certificateSpec(certificate, names, "data.new_certificate");
  if (spec.fingerprint !== oldFingerprint && t.certs.get(front)?.has(spec.fingerprint)) {
    throw new ConflictError(
      `${order}: listener ${front} already has certificate ${spec.fingerprint}: remove it instead`,
    );
  }
  return {
    changed: true,
    message: warning ?? "",
    ...(warning ? { warning } : {}),
    proxy: [{ op: "replace_certificate", listener: front, oldFingerprint, certificate: spec }],
    commit: () => {
      t.deleteCertificate([front], oldFingerprint);
      t.setCertificate(front, spec.fingerprint, { certificate, names });
    },
  };
}

/** REMOVE_CERTIFICATE: from one listener, or from every listener holding it. */
export function planRemoveCertificate(
  t: ConfigTables,
  front: string | null,
  fingerprint: string,
): Plan {
  const holders = front === null
    ? [...t.certs].filter(([, m]) => m.has(fingerprint)).map(([a]) => a)
    : t.certs.get(front)?.has(fingerprint)
    ? [front]
    : [];
  if (holders.length === 0) {
    throw new NotFoundError(
      `REMOVE_CERTIFICATE: no certificate with fingerprint ${fingerprint}${
        front ? ` on listener ${front}` : ""
      }`,
    );
  }
  return {
    changed: true,
    message: "",
    proxy: holders.map((listener) => ({
      op: "remove_certificate" as const,
      listener,
      fingerprint,
    })),
    commit: () => t.deleteCertificate(holders, fingerprint),
  };
}
