/**
 * ConfigState: what sozu's main process holds — listeners, applications, fronts, backends and
 * certificates — with the consistency checks sozu lacks. Every order is first planned (checked,
 * nothing changed), then committed, so a refused order never half-applies. The state also produces
 * its DUMP_STATE form, the orders that rebuild it (SAVE_STATE, in dependency order) and the
 * data-plane orders that rebuild a worker.
 */
import { createPrivateKey } from "node:crypto";
import type { ListenerSpec, ProxyOrder } from "../../backends/http_proxy/mod.ts";
import { certificateFacts } from "./certificates.ts";
import { SozuError } from "./errors.ts";
import type { ListenerDefaults, ListenerRef, StateOrder } from "./orders.ts";
import type {
  Application,
  Backend,
  CertificateAndKey,
  HttpFront,
  HttpListener,
  HttpsListener,
} from "./wire.ts";

/** The DUMP_STATE payload (sozu 0.11–0.13 ConfigState). */
export interface ConfigStateJson {
  applications: Record<string, Application>;
  backends: Record<string, Backend[]>;
  http_listeners: Record<string, [HttpListener, boolean]>;
  https_listeners: Record<string, [HttpsListener, boolean]>;
  tcp_listeners: Record<string, never>;
  http_fronts: Record<string, HttpFront[]>;
  https_fronts: Record<string, HttpFront[]>;
  tcp_fronts: Record<string, never>;
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
  listeners: ["http" | "https", HttpListener | HttpsListener, boolean][];
  applications: Application[];
  /** [proxy, app_id, address, hostname, path_begin] */
  fronts: ["http" | "https", string, string, string, string][];
  /** [address, certificate, names] */
  certificates: [string, CertificateAndKey, string[]][];
  /** [app_id, backend_id, address, sticky_id, weight, backup] */
  backends: [string, string, string, string | null, number | null, boolean | null][];
}

/** A checked order, ready to commit. */
export interface Plan {
  /** False when the order would change nothing. */
  changed: boolean;
  /** Note for the OK reply ("" when none). */
  message: string;
  /** Orders the data plane must apply first. */
  proxy: ProxyOrder[];
  /** Applies the order to the state. */
  commit(): void;
}

type HttpEntry = { proxy: "http"; config: HttpListener; active: boolean };
type HttpsEntry = { proxy: "https"; config: HttpsListener; active: boolean };
type ListenerEntry = HttpEntry | HttpsEntry;
interface FrontEntry {
  proxy: "http" | "https";
  front: HttpFront;
}
interface CertEntry {
  certificate: CertificateAndKey;
  names: string[];
}

const HTTPS_NOTE = "accepted into the state; HTTPS is not served yet (it comes with part 2)";

const NOTHING: Plan = { changed: false, message: "", proxy: [], commit: () => {} };

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function frontKey(proxy: string, f: HttpFront): string {
  return `${proxy} ${f.address} ${f.hostname} ${f.path_begin}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The listener spec the data plane gets for a listener. */
export function listenerSpec(entry: ListenerEntry): ListenerSpec {
  const c = entry.config;
  const spec: ListenerSpec = {
    address: c.front,
    protocol: entry.proxy,
    stickyName: c.sticky_name,
    frontTimeoutMs: c.front_timeout * 1000,
    backTimeoutMs: c.back_timeout * 1000,
    connectTimeoutMs: c.connect_timeout * 1000,
    requestTimeoutMs: c.request_timeout * 1000,
  };
  if (c.public_address) spec.publicAddress = c.public_address;
  if (c.answer_404) spec.answer404 = c.answer_404;
  if (c.answer_503) spec.answer503 = c.answer_503;
  return spec;
}

function clusterOrder(app: Application): ProxyOrder {
  const cluster: ProxyOrder & { op: "add_cluster" } = {
    op: "add_cluster",
    cluster: {
      id: app.app_id,
      stickySession: app.sticky_session,
      httpsRedirect: app.https_redirect,
      loadBalancing: app.load_balancing,
    },
  };
  if (app.answer_503) cluster.cluster.answer503 = app.answer_503;
  return cluster;
}

function frontOrder(op: "add_front" | "remove_front", f: HttpFront): ProxyOrder {
  return {
    op,
    front: {
      listener: f.address,
      clusterId: f.app_id,
      hostname: f.hostname,
      pathBegin: f.path_begin,
    },
  };
}

function backendOrder(b: Backend): ProxyOrder {
  const backend: ProxyOrder & { op: "add_backend" } = {
    op: "add_backend",
    backend: { clusterId: b.app_id, backendId: b.backend_id, address: b.address },
  };
  if (b.load_balancing_parameters) backend.backend.weight = b.load_balancing_parameters.weight;
  if (b.backup !== null) backend.backend.backup = b.backup;
  if (b.sticky_id !== null) backend.backend.stickyId = b.sticky_id;
  return backend;
}

/** Options for {@linkcode ConfigState}. */
export interface ConfigStateOptions {
  /** Listener used by README-shaped HTTP orders that name none ("" = first HTTP listener). */
  defaultHttpListener?: string;
  /** Same for HTTPS. */
  defaultHttpsListener?: string;
}

/** The configuration state of the proxy. */
export class ConfigState implements ListenerDefaults {
  #listeners = new Map<string, ListenerEntry>();
  #apps = new Map<string, Application>();
  /** app → (backend_id + address) → backend, in insertion order. */
  #backends = new Map<string, Map<string, Backend>>();
  #backendCount = 0;
  #fronts = new Map<string, FrontEntry>();
  #frontsByApp = new Map<string, number>();
  #frontsByListener = new Map<string, number>();
  #certs = new Map<string, Map<string, CertEntry>>();
  #defaults: ConfigStateOptions;

  constructor(options: ConfigStateOptions = {}) {
    this.#defaults = options;
  }

  /** Counts for status displays. */
  get counts(): Record<string, number> {
    return {
      listeners: this.#listeners.size,
      applications: this.#apps.size,
      fronts: this.#fronts.size,
      backends: this.#backendCount,
    };
  }

  defaultListener(proxy: "http" | "https"): string | null {
    const configured = proxy === "http"
      ? this.#defaults.defaultHttpListener
      : this.#defaults.defaultHttpsListener;
    if (configured) return configured;
    for (const [address, entry] of this.#listeners) if (entry.proxy === proxy) return address;
    return null;
  }

  listenerByPort(proxy: "http" | "https", port: number): string | null {
    const found = [...this.#listeners].filter(([address, e]) =>
      e.proxy === proxy && address.endsWith(`:${port}`)
    );
    return found.length === 1 ? found[0]![0] : null;
  }

  /** Whether a listener exists at `address`. */
  hasListener(address: string): boolean {
    return this.#listeners.has(address);
  }

  /** Checks an order against the state; throws {@linkcode SozuError} when it must be refused. */
  plan(order: StateOrder): Plan {
    switch (order.type) {
      case "ADD_HTTP_LISTENER":
      case "ADD_HTTPS_LISTENER":
        return this.#planAddListener(
          order.type === "ADD_HTTP_LISTENER"
            ? { proxy: "http", config: order.data, active: false }
            : { proxy: "https", config: order.data, active: false },
        );
      case "REMOVE_LISTENER":
        return this.#planRemoveListener(order.data);
      case "ACTIVATE_LISTENER":
        return this.#planActivation(order.data, true);
      case "DEACTIVATE_LISTENER":
        return this.#planActivation(order.data, false);
      case "ADD_APPLICATION":
        return this.#planAddApp(order.data);
      case "REMOVE_APPLICATION":
        return this.#planRemoveApp(order.data);
      case "ADD_HTTP_FRONT":
      case "ADD_HTTPS_FRONT":
        return this.#planAddFront(
          order.type === "ADD_HTTP_FRONT" ? "http" : "https",
          order.data,
          order.fingerprint,
        );
      case "REMOVE_HTTP_FRONT":
      case "REMOVE_HTTPS_FRONT":
        return this.#planRemoveFront(
          order.type === "REMOVE_HTTP_FRONT" ? "http" : "https",
          order.data,
        );
      case "ADD_BACKEND":
        return this.#planAddBackend(order.data);
      case "REMOVE_BACKEND":
        return this.#planRemoveBackend(order.data);
      case "ADD_CERTIFICATE":
        return this.#planAddCertificate(order.data.front, order.data.certificate, order.data.names);
      case "REMOVE_CERTIFICATE":
        return this.#planRemoveCertificate(order.data.front, order.data.fingerprint);
      case "REPLACE_CERTIFICATE": {
        const d = order.data;
        const remove = this.#planRemoveCertificate(d.front, d.old_fingerprint);
        const add = this.#planAddCertificate(
          d.front,
          d.new_certificate,
          d.new_names,
          d.old_fingerprint,
        );
        return {
          changed: true,
          message: HTTPS_NOTE,
          proxy: [],
          commit: () => {
            remove.commit();
            add.commit();
          },
        };
      }
    }
  }

  /** Plans and commits in one step (restoring, tests). */
  apply(order: StateOrder): Plan {
    const plan = this.plan(order);
    plan.commit();
    return plan;
  }

  #listener(ref: ListenerRef, order: string): ListenerEntry {
    if (ref.proxy === "tcp") throw new SozuError(`${order}: TCP listeners are not supported`);
    const entry = this.#listeners.get(ref.front);
    if (!entry || entry.proxy !== ref.proxy) {
      throw new SozuError(`${order}: no ${ref.proxy.toUpperCase()} listener at ${ref.front}`);
    }
    return entry;
  }

  #planAddListener(entry: ListenerEntry): Plan {
    const address = entry.config.front;
    const existing = this.#listeners.get(address);
    if (existing) {
      if (existing.proxy === entry.proxy && same(existing.config, entry.config)) return NOTHING;
      throw new SozuError(
        `a ${existing.proxy.toUpperCase()} listener already exists at ${address}: remove it first`,
      );
    }
    return {
      changed: true,
      message: entry.proxy === "https" ? HTTPS_NOTE : "",
      proxy: entry.proxy === "http" ? [{ op: "add_listener", listener: listenerSpec(entry) }] : [],
      commit: () => void this.#listeners.set(address, entry),
    };
  }

  #planRemoveListener(ref: ListenerRef): Plan {
    const order = "REMOVE_LISTENER";
    const entry = this.#listener(ref, order);
    const fronts = this.#frontsByListener.get(ref.front) ?? 0;
    if (fronts > 0) {
      throw new SozuError(
        `${order}: listener ${ref.front} still has ${plural(fronts, "front")}: remove them first`,
      );
    }
    const certs = this.#certs.get(ref.front)?.size ?? 0;
    if (certs > 0) {
      throw new SozuError(
        `${order}: listener ${ref.front} still has ${
          plural(certs, "certificate")
        }: remove them first`,
      );
    }
    return {
      changed: true,
      message: "",
      proxy: entry.proxy === "http" ? [{ op: "remove_listener", address: ref.front }] : [],
      commit: () => {
        this.#listeners.delete(ref.front);
        this.#certs.delete(ref.front);
      },
    };
  }

  #planActivation(ref: ListenerRef, active: boolean): Plan {
    const entry = this.#listener(ref, active ? "ACTIVATE_LISTENER" : "DEACTIVATE_LISTENER");
    if (entry.active === active) return NOTHING;
    return {
      changed: true,
      message: entry.proxy === "https" ? HTTPS_NOTE : "",
      proxy: entry.proxy === "http"
        ? [{ op: active ? "activate_listener" : "deactivate_listener", address: ref.front }]
        : [],
      commit: () => {
        entry.active = active;
      },
    };
  }

  #planAddApp(app: Application): Plan {
    const existing = this.#apps.get(app.app_id);
    if (existing && same(existing, app)) return NOTHING;
    return {
      changed: true,
      message: "",
      proxy: [clusterOrder(app)],
      commit: () => void this.#apps.set(app.app_id, app),
    };
  }

  #planRemoveApp(id: string): Plan {
    const order = "REMOVE_APPLICATION";
    if (!this.#apps.has(id)) throw new SozuError(`${order}: application "${id}" does not exist`);
    const fronts = this.#frontsByApp.get(id) ?? 0;
    const backends = this.#backends.get(id)?.size ?? 0;
    if (fronts > 0 || backends > 0) {
      throw new SozuError(
        `${order}: application "${id}" still has ${plural(fronts, "front")} and ${
          plural(backends, "backend")
        }: remove them first`,
      );
    }
    return {
      changed: true,
      message: "",
      proxy: [{ op: "remove_cluster", id }],
      commit: () => {
        this.#apps.delete(id);
        this.#backends.delete(id);
      },
    };
  }

  #planAddFront(proxy: "http" | "https", front: HttpFront, fingerprint?: string): Plan {
    const order = proxy === "http" ? "ADD_HTTP_FRONT" : "ADD_HTTPS_FRONT";
    this.#listener({ front: front.address, proxy }, order);
    if (!this.#apps.has(front.app_id)) {
      throw new SozuError(`${order}: application "${front.app_id}" does not exist`);
    }
    if (fingerprint && !this.#certs.get(front.address)?.has(fingerprint)) {
      throw new SozuError(
        `${order}: no certificate with fingerprint ${fingerprint} on listener ${front.address}`,
      );
    }
    const key = frontKey(proxy, front);
    const existing = this.#fronts.get(key);
    if (existing) {
      if (existing.front.app_id === front.app_id) return NOTHING;
      throw new SozuError(
        `${order}: ${front.hostname}${front.path_begin} on ${front.address} already routes to application "${existing.front.app_id}"`,
      );
    }
    return {
      changed: true,
      message: proxy === "https" ? HTTPS_NOTE : "",
      proxy: proxy === "http" ? [frontOrder("add_front", front)] : [],
      commit: () => {
        this.#fronts.set(key, { proxy, front });
        this.#bump(this.#frontsByApp, front.app_id, 1);
        this.#bump(this.#frontsByListener, front.address, 1);
      },
    };
  }

  #planRemoveFront(proxy: "http" | "https", front: HttpFront): Plan {
    const order = proxy === "http" ? "REMOVE_HTTP_FRONT" : "REMOVE_HTTPS_FRONT";
    const key = frontKey(proxy, front);
    const existing = this.#fronts.get(key);
    if (!existing || existing.front.app_id !== front.app_id) {
      throw new SozuError(
        `${order}: no ${proxy.toUpperCase()} front for application "${front.app_id}" at ${front.hostname}${front.path_begin} on ${front.address}`,
      );
    }
    return {
      changed: true,
      message: "",
      proxy: proxy === "http" ? [frontOrder("remove_front", existing.front)] : [],
      commit: () => {
        this.#fronts.delete(key);
        this.#bump(this.#frontsByApp, front.app_id, -1);
        this.#bump(this.#frontsByListener, front.address, -1);
      },
    };
  }

  #bump(map: Map<string, number>, key: string, by: number): void {
    const n = (map.get(key) ?? 0) + by;
    if (n <= 0) map.delete(key);
    else map.set(key, n);
  }

  #planAddBackend(backend: Backend): Plan {
    if (!this.#apps.has(backend.app_id)) {
      throw new SozuError(`ADD_BACKEND: application "${backend.app_id}" does not exist`);
    }
    const key = `${backend.backend_id} ${backend.address}`;
    const existing = this.#backends.get(backend.app_id)?.get(key);
    if (existing && same(existing, backend)) return NOTHING;
    return {
      changed: true,
      message: "",
      proxy: [backendOrder(backend)],
      commit: () => {
        let map = this.#backends.get(backend.app_id);
        if (!map) this.#backends.set(backend.app_id, map = new Map());
        if (!map.has(key)) this.#backendCount++;
        map.set(key, backend);
      },
    };
  }

  #planRemoveBackend(
    target: { app_id: string; backend_id: string | null; address: string },
  ): Plan {
    const map = this.#backends.get(target.app_id);
    const matches: [string, Backend][] = [];
    if (map && target.backend_id !== null) {
      const key = `${target.backend_id} ${target.address}`;
      const b = map.get(key);
      if (b) matches.push([key, b]);
    } else if (map) {
      for (const entry of map) if (entry[1].address === target.address) matches.push(entry);
    }
    if (matches.length === 0) {
      throw new SozuError(
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
      commit: () => {
        const current = this.#backends.get(target.app_id);
        if (!current) return;
        for (const [key] of matches) if (current.delete(key)) this.#backendCount--;
        if (current.size === 0) this.#backends.delete(target.app_id);
      },
    };
  }

  #planAddCertificate(
    front: string,
    certificate: CertificateAndKey,
    names: string[],
    replacing?: string,
  ): Plan {
    const order = replacing ? "REPLACE_CERTIFICATE" : "ADD_CERTIFICATE";
    this.#listener({ front, proxy: "https" }, order);
    const facts = certificateFacts(certificate.certificate);
    try {
      createPrivateKey(certificate.key);
    } catch (error) {
      throw new SozuError(`${order}: data.key: could not parse the private key`, { cause: error });
    }
    for (const pem of certificate.certificate_chain) certificateFacts(pem);
    const existing = this.#certs.get(front)?.get(facts.fingerprint);
    if (existing && facts.fingerprint !== replacing) return NOTHING;
    return {
      changed: true,
      message: HTTPS_NOTE,
      proxy: [],
      commit: () => {
        const map = this.#certs.get(front) ?? new Map<string, CertEntry>();
        map.set(facts.fingerprint, { certificate, names });
        this.#certs.set(front, map);
      },
    };
  }

  #planRemoveCertificate(front: string | null, fingerprint: string): Plan {
    const holders = front === null
      ? [...this.#certs].filter(([, m]) => m.has(fingerprint)).map(([a]) => a)
      : this.#certs.get(front)?.has(fingerprint)
      ? [front]
      : [];
    if (holders.length === 0) {
      throw new SozuError(
        `REMOVE_CERTIFICATE: no certificate with fingerprint ${fingerprint}${
          front ? ` on listener ${front}` : ""
        }`,
      );
    }
    return {
      changed: true,
      message: HTTPS_NOTE,
      proxy: [],
      commit: () => {
        for (const address of holders) {
          const map = this.#certs.get(address);
          map?.delete(fingerprint);
          if (map && map.size === 0) this.#certs.delete(address);
        }
      },
    };
  }

  // ------------------------------------------------------------- views

  /** The automatic state document. */
  toDocument(): StateDocument {
    const doc: StateDocument = {
      listeners: [],
      applications: [...this.#apps.values()],
      fronts: [],
      certificates: [],
      backends: [],
    };
    for (const e of this.#listeners.values()) doc.listeners.push([e.proxy, e.config, e.active]);
    for (const { proxy, front: f } of this.#fronts.values()) {
      doc.fronts.push([proxy, f.app_id, f.address, f.hostname, f.path_begin]);
    }
    for (const [address, map] of this.#certs) {
      for (const c of map.values()) doc.certificates.push([address, c.certificate, c.names]);
    }
    for (const map of this.#backends.values()) {
      for (const b of map.values()) {
        doc.backends.push([
          b.app_id,
          b.backend_id,
          b.address,
          b.sticky_id,
          b.load_balancing_parameters?.weight ?? null,
          b.backup,
        ]);
      }
    }
    return doc;
  }

  /** The DUMP_STATE form. */
  toJSON(): ConfigStateJson {
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
    for (const [address, e] of this.#listeners) {
      if (e.proxy === "http") {
        out.http_listeners[address] = [e.config, e.active];
        out.http_addresses.push(address);
      } else {
        out.https_listeners[address] = [e.config, e.active];
        out.https_addresses.push(address);
      }
    }
    for (const [id, app] of this.#apps) out.applications[id] = app;
    for (const [id, map] of this.#backends) out.backends[id] = [...map.values()];
    for (const { proxy, front } of this.#fronts.values()) {
      const table = proxy === "http" ? out.http_fronts : out.https_fronts;
      (table[front.app_id] ??= []).push(front);
    }
    for (const [address, map] of this.#certs) {
      const table: Record<string, [CertificateAndKey, string[]]> = {};
      for (const [fp, c] of map) table[fp] = [c.certificate, c.names];
      out.certificates[address] = table;
    }
    return out;
  }

  /** The orders that rebuild this state from nothing, in dependency order (SAVE_STATE). */
  orders(): StateOrder[] {
    const out: StateOrder[] = [];
    for (const proxy of ["http", "https"] as const) {
      for (const e of this.#listeners.values()) {
        if (e.proxy !== proxy) continue;
        if (e.proxy === "http") out.push({ type: "ADD_HTTP_LISTENER", data: e.config });
        else out.push({ type: "ADD_HTTPS_LISTENER", data: e.config });
        if (e.active) {
          out.push({
            type: "ACTIVATE_LISTENER",
            data: { front: e.config.front, proxy, from_scm: false },
          });
        }
      }
    }
    for (const app of this.#apps.values()) out.push({ type: "ADD_APPLICATION", data: app });
    for (const f of this.#fronts.values()) {
      if (f.proxy === "http") out.push({ type: "ADD_HTTP_FRONT", data: f.front });
    }
    for (const [front, map] of this.#certs) {
      for (const c of map.values()) {
        out.push({
          type: "ADD_CERTIFICATE",
          data: { front, certificate: c.certificate, names: c.names },
        });
      }
    }
    for (const f of this.#fronts.values()) {
      if (f.proxy === "https") out.push({ type: "ADD_HTTPS_FRONT", data: f.front });
    }
    for (const list of this.#backends.values()) {
      for (const b of list.values()) out.push({ type: "ADD_BACKEND", data: b });
    }
    return out;
  }

  /** Data-plane orders that rebuild a worker from nothing. */
  proxyOrders(): ProxyOrder[] {
    const out: ProxyOrder[] = [];
    const active: ProxyOrder[] = [];
    for (const e of this.#listeners.values()) {
      if (e.proxy !== "http") continue;
      out.push({ op: "add_listener", listener: listenerSpec(e) });
      if (e.active) active.push({ op: "activate_listener", address: e.config.front });
    }
    for (const app of this.#apps.values()) out.push(clusterOrder(app));
    for (const f of this.#fronts.values()) {
      if (f.proxy === "http") out.push(frontOrder("add_front", f.front));
    }
    for (const map of this.#backends.values()) {
      for (const b of map.values()) out.push(backendOrder(b));
    }
    return [...out, ...active];
  }

  /** Everything known about one application (QUERY APPLICATIONS answer item). */
  applicationInfo(id: string): Record<string, unknown> | null {
    const app = this.#apps.get(id);
    if (!app) return null;
    const http: HttpFront[] = [];
    const https: HttpFront[] = [];
    for (const f of this.#fronts.values()) {
      if (f.front.app_id === id) (f.proxy === "http" ? http : https).push(f.front);
    }
    return {
      configuration: app,
      http_frontends: http,
      https_frontends: https,
      tcp_frontends: [],
      backends: [...(this.#backends.get(id)?.values() ?? [])],
    };
  }

  /** Applications with a front for `hostname` (and `pathBegin` when given). */
  applicationsByDomain(hostname: string, pathBegin: string | null): string[] {
    const ids = new Set<string>();
    for (const { front } of this.#fronts.values()) {
      if (front.hostname !== hostname) continue;
      if (pathBegin !== null && front.path_begin !== pathBegin) continue;
      ids.add(front.app_id);
    }
    return [...ids];
  }

  /** Every application id. */
  applicationIds(): string[] {
    return [...this.#apps.keys()];
  }

  /** Fronts, optionally filtered by a domain substring (LIST_FRONTENDS). */
  fronts(proxy: "http" | "https", domain: string | null): HttpFront[] {
    const out: HttpFront[] = [];
    for (const f of this.#fronts.values()) {
      if (f.proxy === proxy && (domain === null || f.front.hostname.includes(domain))) {
        out.push(f.front);
      }
    }
    return out;
  }

  /** Certificates: every one, those covering a name, or one fingerprint. */
  certificates(
    filter: { type: "ALL" } | { type: "DOMAIN"; name: string } | {
      type: "FINGERPRINT";
      fp: string;
    },
  ): { address: string; fingerprint: string; names: string[]; certificate: string }[] {
    const out: { address: string; fingerprint: string; names: string[]; certificate: string }[] =
      [];
    for (const [address, map] of this.#certs) {
      for (const [fp, c] of map) {
        if (filter.type === "DOMAIN" && !c.names.includes(filter.name)) continue;
        if (filter.type === "FINGERPRINT" && fp !== filter.fp) continue;
        out.push({
          address,
          fingerprint: fp,
          names: c.names,
          certificate: c.certificate.certificate,
        });
      }
    }
    return out;
  }
}
