/**
 * What the state shows of itself: the DUMP_STATE form, the automatic state document, the orders
 * that rebuild it (SAVE_STATE, in dependency order), the data-plane orders that rebuild a worker,
 * and the answers of QUERY and LIST_FRONTENDS.
 */
import type { ProxyOrder } from "../../../backends/http_proxy/mod.ts";
import type {
  Application,
  Backend,
  CertificateAndKey,
  HttpFront,
  HttpListener,
  HttpsListener,
  TcpFront,
  TcpListener,
} from "../order_schemas.ts";
import { frontendJson, type HttpFrontendJson, wireFront } from "./frontends.ts";
import type { StateOrder } from "./orders.ts";
import {
  backendOrder,
  certificateSpec,
  clusterOrder,
  frontOrder,
  listenerSpec,
  tcpFrontOrder,
} from "./proxy_orders.ts";
import type { ConfigTables } from "./tables.ts";

/** The DUMP_STATE payload (sozu 0.11–0.13 ConfigState). */
export interface ConfigStateJson {
  applications: Record<string, Application>;
  backends: Record<string, Backend[]>;
  http_listeners: Record<string, [HttpListener, boolean]>;
  https_listeners: Record<string, [HttpsListener, boolean]>;
  tcp_listeners: Record<string, [TcpListener, boolean]>;
  http_fronts: Record<string, (HttpFront | HttpFrontendJson)[]>;
  https_fronts: Record<string, (HttpFront | HttpFrontendJson)[]>;
  tcp_fronts: Record<string, TcpFront[]>;
  certificates: Record<string, Record<string, [CertificateAndKey, string[]]>>;
  http_addresses: string[];
  https_addresses: string[];
}

/**
 * The automatic state document (version 2): the same content as {@linkcode ConfigStateJson} with
 * fronts and backends as tuples, which serialise several times faster than objects — the document
 * is rewritten after every batch of orders.
 */
export interface StateDocument {
  listeners: ["http" | "https" | "tcp", HttpListener | HttpsListener | TcpListener, boolean][];
  applications: Application[];
  /**
   * [proxy, app_id (null: DENY), address, hostname, path_begin, v0.14 rule fields when any]
   */
  fronts: ["http" | "https", string | null, string, string, string, FrontRule?][];
  /** [address, certificate, names] */
  certificates: [string, CertificateAndKey, string[]][];
  /** [app_id, backend_id, address, sticky_id, weight, backup] */
  backends: [string, string, string, string | null, number | null, boolean | null][];
  /** [app_id, listener address] (absent in documents written before TCP support). */
  tcp_fronts?: [string, string][];
}

/** A front's v0.14 rule fields in the state document. */
export type FrontRule = Pick<HttpFront, "path_rule" | "method" | "position" | "tags">;

/** Which certificates QUERY CERTIFICATES asks for. */
export type CertificateFilter =
  | { type: "ALL" }
  | { type: "DOMAIN"; name: string }
  | { type: "FINGERPRINT"; fp: string };

/** The automatic state document. */
export function stateDocument(t: ConfigTables): StateDocument {
  const doc: StateDocument = {
    listeners: [],
    applications: [...t.apps.values()],
    fronts: [],
    certificates: [],
    backends: [],
    tcp_fronts: [...t.tcpFronts.values()].map((f) => [f.app_id, f.address]),
  };
  for (const e of t.listeners.values()) doc.listeners.push([e.proxy, e.config, e.active]);
  for (const { proxy, front: f } of t.fronts.values()) {
    const { app_id, address, hostname, path_begin, ...rule } = f;
    if (Object.keys(rule).length === 0) {
      doc.fronts.push([proxy, app_id, address, hostname, path_begin]);
    } else doc.fronts.push([proxy, app_id, address, hostname, path_begin, rule]);
  }
  for (const [address, map] of t.certs) {
    for (const c of map.values()) doc.certificates.push([address, c.certificate, c.names]);
  }
  for (const map of t.backends.values()) {
    for (const b of map.values()) {
      const weight = b.load_balancing_parameters?.weight ?? null;
      doc.backends.push([b.app_id, b.backend_id, b.address, b.sticky_id, weight, b.backup]);
    }
  }
  return doc;
}

/** The DUMP_STATE form. */
export function dumpState(t: ConfigTables): ConfigStateJson {
  const out: ConfigStateJson = {
    applications: {},
    backends: {},
    http_listeners: {},
    https_listeners: {},
    tcp_listeners: {},
    http_fronts: {},
    https_fronts: {},
    tcp_fronts: {},
    certificates: {},
    http_addresses: [],
    https_addresses: [],
  };
  for (const [address, e] of t.listeners) {
    if (e.proxy === "http") {
      out.http_listeners[address] = [e.config, e.active];
      out.http_addresses.push(address);
    } else if (e.proxy === "tcp") {
      out.tcp_listeners[address] = [e.config, e.active];
    } else {
      out.https_listeners[address] = [e.config, e.active];
      out.https_addresses.push(address);
    }
  }
  for (const [id, app] of t.apps) out.applications[id] = app;
  for (const [id, map] of t.backends) out.backends[id] = [...map.values()];
  for (const { proxy, front } of t.fronts.values()) {
    const table = proxy === "http" ? out.http_fronts : out.https_fronts;
    // DENY fronts (v0.14) have no application: they are listed under "DENY".
    (table[front.app_id ?? "DENY"] ??= []).push(wireFront(front));
  }
  for (const front of t.tcpFronts.values()) (out.tcp_fronts[front.app_id] ??= []).push(front);
  for (const [address, map] of t.certs) {
    const table: Record<string, [CertificateAndKey, string[]]> = {};
    for (const [fp, c] of map) table[fp] = [c.certificate, c.names];
    out.certificates[address] = table;
  }
  return out;
}

function listenerOrders(t: ConfigTables): StateOrder[] {
  const out: StateOrder[] = [];
  for (const proxy of ["http", "https", "tcp"] as const) {
    for (const e of t.listeners.values()) {
      if (e.proxy !== proxy) continue;
      if (e.proxy === "http") out.push({ type: "ADD_HTTP_LISTENER", data: e.config });
      else if (e.proxy === "tcp") out.push({ type: "ADD_TCP_LISTENER", data: e.config });
      else out.push({ type: "ADD_HTTPS_LISTENER", data: e.config });
      if (e.active) {
        out.push({
          type: "ACTIVATE_LISTENER",
          data: { front: e.config.front, proxy, from_scm: false },
        });
      }
    }
  }
  return out;
}

/** The orders that rebuild the state from nothing, in dependency order (SAVE_STATE). */
export function rebuildOrders(t: ConfigTables): StateOrder[] {
  const out = listenerOrders(t);
  for (const app of t.apps.values()) out.push({ type: "ADD_APPLICATION", data: app });
  for (const f of t.fronts.values()) {
    if (f.proxy === "http") out.push({ type: "ADD_HTTP_FRONT", data: f.front });
  }
  for (const [front, map] of t.certs) {
    for (const c of map.values()) {
      out.push({
        type: "ADD_CERTIFICATE",
        data: { front, certificate: c.certificate, names: c.names },
      });
    }
  }
  for (const f of t.fronts.values()) {
    if (f.proxy === "https") out.push({ type: "ADD_HTTPS_FRONT", data: f.front });
  }
  for (const f of t.tcpFronts.values()) out.push({ type: "ADD_TCP_FRONT", data: f });
  for (const list of t.backends.values()) {
    for (const b of list.values()) out.push({ type: "ADD_BACKEND", data: b });
  }
  return out;
}

/** Data-plane orders that rebuild a worker from nothing (listeners are activated last). */
export function workerOrders(t: ConfigTables): ProxyOrder[] {
  const out: ProxyOrder[] = [];
  const active: ProxyOrder[] = [];
  for (const e of t.listeners.values()) {
    out.push({ op: "add_listener", listener: listenerSpec(e) });
    if (e.active) active.push({ op: "activate_listener", address: e.config.front });
  }
  for (const [listener, map] of t.certs) {
    for (const c of map.values()) {
      const certificate = certificateSpec(c.certificate, c.names).spec;
      out.push({ op: "add_certificate", listener, certificate });
    }
  }
  for (const app of t.apps.values()) out.push(clusterOrder(app));
  for (const f of t.fronts.values()) out.push(frontOrder("add_front", f.front));
  for (const f of t.tcpFronts.values()) out.push(tcpFrontOrder("add_tcp_front", f));
  for (const map of t.backends.values()) {
    for (const b of map.values()) out.push(backendOrder(b));
  }
  return [...out, ...active];
}

/**
 * Everything known about one application: the QUERY APPLICATIONS answer item (0.13 shapes), or
 * with `v14` the QUERY CLUSTERS one (`cluster_id`, every front as a v0.14 `HttpFrontend`).
 */
export function applicationInfo(
  t: ConfigTables,
  id: string,
  v14 = false,
): Record<string, unknown> | null {
  const app = t.apps.get(id);
  if (!app) return null;
  const http: unknown[] = [];
  const https: unknown[] = [];
  for (const f of t.fronts.values()) {
    if (f.front.app_id !== id) continue;
    (f.proxy === "http" ? http : https).push(v14 ? frontendJson(f.front) : wireFront(f.front));
  }
  const backends = [...(t.backends.get(id)?.values() ?? [])];
  const tcp = [...t.tcpFronts.values()].filter((f) => f.app_id === id);
  return {
    configuration: v14 ? renameAppId(app) : app,
    http_frontends: http,
    https_frontends: https,
    tcp_frontends: v14 ? tcp.map(renameAppId) : tcp,
    backends: v14 ? backends.map(renameAppId) : backends,
  };
}

/** `app_id` → `cluster_id` (v0.14 names), keeping the other fields. */
function renameAppId<T extends { app_id: string }>(o: T): Omit<T, "app_id"> & {
  cluster_id: string;
} {
  const { app_id, ...rest } = o;
  return { cluster_id: app_id, ...rest };
}

/** A fingerprint as sozu's answers carry it: the 32 bytes. */
function fingerprintBytes(hex: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < hex.length; i += 2) out.push(parseInt(hex.slice(i, i + 2), 16));
  return out;
}

/** The name (exact, else its one-label wildcard) that serves `domain` among `names`. */
function matchingName(names: readonly string[], domain: string): string | null {
  if (names.includes(domain)) return domain;
  const dot = domain.indexOf(".");
  const wildcard = dot > 0 ? `*${domain.slice(dot)}` : null;
  return wildcard !== null && names.includes(wildcard) ? wildcard : null;
}

/**
 * A worker's answer to QUERY CERTIFICATES in sozu 0.13's shape (`QueryAnswerCertificate`,
 * externally tagged): `{"All": {listener: {name: [fingerprint bytes]}}}`,
 * `{"Domain": {listener: [name, [bytes]] | null}}` (exact name first, then a wildcard) or
 * `{"Fingerprint": [certificate PEM, names] | null}`.
 */
export function certificatesAnswer(t: ConfigTables, filter: CertificateFilter): unknown {
  const https = [...t.listeners].filter(([, e]) => e.proxy === "https").map(([a]) => a);
  if (filter.type === "FINGERPRINT") {
    for (const map of t.certs.values()) {
      const c = map.get(filter.fp);
      if (c) return { Fingerprint: [c.certificate.certificate, c.names] };
    }
    return { Fingerprint: null };
  }
  if (filter.type === "ALL") {
    const all: Record<string, Record<string, number[]>> = {};
    for (const address of https) {
      const names: Record<string, number[]> = {};
      for (const [fp, c] of t.certs.get(address) ?? []) {
        for (const name of c.names) names[name] = fingerprintBytes(fp);
      }
      all[address] = names;
    }
    return { All: all };
  }
  const domain: Record<string, [string, number[]] | null> = {};
  for (const address of https) {
    let found: [string, number[]] | null = null;
    let exact = false;
    for (const [fp, c] of t.certs.get(address) ?? []) {
      const name = matchingName(c.names, filter.name);
      if (name === null || (exact && name !== filter.name)) continue;
      found = [name, fingerprintBytes(fp)];
      exact = name === filter.name;
    }
    domain[address] = found;
  }
  return { Domain: domain };
}
