/**
 * ConfigState: what sozu's main process holds — listeners, applications, fronts, backends and
 * certificates — with the consistency checks sozu lacks. Every order is first planned (checked,
 * nothing changed, `planner.ts`), then committed into the tables (`tables.ts`), so a refused order
 * never half-applies; the views (`views.ts`) show the state as DUMP_STATE, the automatic state
 * document, the orders that rebuild it and the data-plane orders that rebuild a worker.
 */
import type { ProxyOrder } from "../../../backends/http_proxy/mod.ts";
import type { TcpFront } from "../order_schemas.ts";
import { frontendJson, type HttpFrontendJson } from "./frontends.ts";
import type { ListenerDefaults, StateOrder } from "./orders.ts";
import {
  type Plan,
  planActivation,
  planAddApp,
  planAddBackend,
  planAddCertificate,
  planAddFront,
  planAddListener,
  planRemoveApp,
  planRemoveBackend,
  planRemoveCertificate,
  planRemoveFront,
  planRemoveListener,
  planReplaceCertificate,
} from "./planner.ts";
import { backendOrder, clusterOrder, frontOrder } from "./proxy_orders.ts";
import { ConfigTables } from "./tables.ts";
import { planAddTcpFront, planRemoveTcpFront } from "./tcp_planner.ts";
import {
  applicationInfo,
  type CertificateFilter,
  certificatesAnswer,
  type ConfigStateJson,
  dumpState,
  rebuildOrders,
  type StateDocument,
  stateDocument,
  workerOrders,
} from "./views.ts";

/** Options for {@linkcode ConfigState}. */
export interface ConfigStateOptions {
  /** Listener used by README-shaped HTTP orders that name none ("" = first HTTP listener). */
  defaultHttpListener?: string;
  /** Same for HTTPS. */
  defaultHttpsListener?: string;
}

/** The plan of a listener order. */
function planListenerOrder(t: ConfigTables, order: StateOrder): Plan | null {
  switch (order.type) {
    case "ADD_HTTP_LISTENER":
      return planAddListener(t, { proxy: "http", config: order.data, active: false });
    case "ADD_HTTPS_LISTENER":
      return planAddListener(t, { proxy: "https", config: order.data, active: false });
    case "ADD_TCP_LISTENER":
      return planAddListener(t, { proxy: "tcp", config: order.data, active: false });
    case "ADD_TCP_FRONT":
      return planAddTcpFront(t, order.data);
    case "REMOVE_TCP_FRONT":
      return planRemoveTcpFront(t, order.data);
    case "REMOVE_LISTENER":
      return planRemoveListener(t, order.data);
    case "ACTIVATE_LISTENER":
      return planActivation(t, order.data, true);
    case "DEACTIVATE_LISTENER":
      return planActivation(t, order.data, false);
  }
  return null;
}

/** The configuration state of the proxy. */
export class ConfigState implements ListenerDefaults {
  #tables = new ConfigTables();
  #defaults: ConfigStateOptions;

  constructor(options: ConfigStateOptions = {}) {
    this.#defaults = options;
  }

  /** Counts for status displays. */
  get counts(): Record<string, number> {
    const t = this.#tables;
    return {
      listeners: t.listeners.size,
      applications: t.apps.size,
      fronts: t.fronts.size + t.tcpFronts.size,
      backends: t.backendCount,
      certificates: this.certificateCount,
    };
  }

  defaultListener(proxy: "http" | "https"): string | null {
    const configured = proxy === "http"
      ? this.#defaults.defaultHttpListener
      : this.#defaults.defaultHttpsListener;
    if (configured) return configured;
    for (const [address, entry] of this.#tables.listeners) {
      if (entry.proxy === proxy) return address;
    }
    return null;
  }

  listenerByPort(proxy: "http" | "https", port: number): string | null {
    const found = [...this.#tables.listeners].filter(([address, e]) =>
      e.proxy === proxy && address.endsWith(`:${port}`)
    );
    return found.length === 1 ? found[0]![0] : null;
  }

  /** The protocol of the listener at `address` ("http" when unknown). */
  listenerProtocol(address: string): "http" | "https" | "tcp" {
    return this.#tables.listeners.get(address)?.proxy ?? "http";
  }

  /** Whether a listener exists at `address`. */
  hasListener(address: string): boolean {
    return this.#tables.listeners.has(address);
  }

  /** Checks an order against the state; throws a core domain error when it must be refused. */
  plan(order: StateOrder): Plan {
    const t = this.#tables;
    switch (order.type) {
      case "ADD_APPLICATION":
        return planAddApp(t, order.data);
      case "REMOVE_APPLICATION":
        return planRemoveApp(t, order.data);
      case "ADD_HTTP_FRONT":
      case "ADD_HTTPS_FRONT":
        return planAddFront(t, order.type === "ADD_HTTP_FRONT" ? "http" : "https", order.data);
      case "REMOVE_HTTP_FRONT":
      case "REMOVE_HTTPS_FRONT":
        return planRemoveFront(
          t,
          order.type === "REMOVE_HTTP_FRONT" ? "http" : "https",
          order.data,
        );
      case "ADD_BACKEND":
        return planAddBackend(t, order.data);
      case "REMOVE_BACKEND":
        return planRemoveBackend(t, order.data);
      case "ADD_CERTIFICATE":
        return planAddCertificate(t, order.data.front, order.data.certificate, order.data.names);
      case "REMOVE_CERTIFICATE":
        return planRemoveCertificate(t, order.data.front, order.data.fingerprint);
      case "REPLACE_CERTIFICATE":
        return planReplaceCertificate(
          t,
          order.data.front,
          order.data.old_fingerprint,
          order.data.new_certificate,
          order.data.new_names,
        );
    }
    return planListenerOrder(t, order)!;
  }

  /**
   * The data-plane orders of an addition the state already holds (none for other orders): what a
   * worker is sent again when the order names it (`worker_id`) — it may lack what the others have.
   */
  resendOrders(order: StateOrder): ProxyOrder[] {
    switch (order.type) {
      case "ADD_APPLICATION":
        return [clusterOrder(order.data)];
      case "ADD_HTTP_FRONT":
      case "ADD_HTTPS_FRONT":
        return [frontOrder("add_front", order.data)];
      case "ADD_BACKEND":
        return [backendOrder(order.data)];
      case "ACTIVATE_LISTENER":
        return [{ op: "activate_listener", address: order.data.front }];
    }
    return [];
  }

  /** Plans and commits in one step (restoring, tests). */
  apply(order: StateOrder): Plan {
    const plan = this.plan(order);
    plan.commit();
    return plan;
  }

  /** The automatic state document. */
  toDocument(): StateDocument {
    return stateDocument(this.#tables);
  }

  /** The DUMP_STATE form. */
  toJSON(): ConfigStateJson {
    return dumpState(this.#tables);
  }

  /** The orders that rebuild this state from nothing, in dependency order (SAVE_STATE). */
  orders(): StateOrder[] {
    return rebuildOrders(this.#tables);
  }

  /** Data-plane orders that rebuild a worker from nothing. */
  proxyOrders(): ProxyOrder[] {
    return workerOrders(this.#tables);
  }

  /** Everything known about one application (QUERY APPLICATIONS item; `v14`: CLUSTERS). */
  applicationInfo(id: string, v14 = false): Record<string, unknown> | null {
    return applicationInfo(this.#tables, id, v14);
  }

  /** Applications with a front for `hostname` (and `pathBegin` when given). */
  applicationsByDomain(hostname: string, pathBegin: string | null): string[] {
    const ids = new Set<string>();
    for (const { front } of this.#tables.fronts.values()) {
      if (front.hostname !== hostname || front.app_id === null) continue;
      if (pathBegin !== null && front.path_begin !== pathBegin) continue;
      ids.add(front.app_id);
    }
    return [...ids];
  }

  /** Every application id. */
  applicationIds(): string[] {
    return [...this.#tables.apps.keys()];
  }

  /** Fronts, optionally filtered by a domain substring (LIST_FRONTENDS, v0.14 shape). */
  fronts(proxy: "http" | "https", domain: string | null): HttpFrontendJson[] {
    const out: HttpFrontendJson[] = [];
    for (const f of this.#tables.fronts.values()) {
      if (f.proxy === proxy && (domain === null || f.front.hostname.includes(domain))) {
        out.push(frontendJson(f.front));
      }
    }
    return out;
  }

  /** The TCP fronts (LIST_FRONTENDS). */
  tcpFronts(): TcpFront[] {
    return [...this.#tables.tcpFronts.values()];
  }

  /** A worker's answer to QUERY CERTIFICATES (sozu's `QueryAnswerCertificate` shape). */
  certificates(filter: CertificateFilter): unknown {
    return certificatesAnswer(this.#tables, filter);
  }

  /** Certificates on each listener (status displays). */
  get certificateCount(): number {
    let n = 0;
    for (const map of this.#tables.certs.values()) n += map.size;
    return n;
  }
}
