/**
 * The storage of the configuration state: listeners, applications, fronts, backends and
 * certificates, each in insertion order, with the indexes the consistency checks need (fronts per
 * application and per listener, the backend count). Only committed plans change it.
 */
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

/** A listener with its protocol and whether it accepts connections. */
export type ListenerEntry =
  | { proxy: "http"; config: HttpListener; active: boolean }
  | { proxy: "https"; config: HttpsListener; active: boolean }
  | { proxy: "tcp"; config: TcpListener; active: boolean };

/** A front and the protocol of its listener. */
export interface FrontEntry {
  proxy: "http" | "https";
  front: HttpFront;
}

/** A certificate and the names it serves. */
export interface CertificateEntry {
  certificate: CertificateAndKey;
  names: string[];
}

/** The key of a front: protocol, listener, hostname, position, path rule, method and path. */
export function frontKey(proxy: string, f: HttpFront): string {
  return `${proxy} ${f.address} ${f.hostname} ${f.position ?? "TREE"} ${f.path_rule ?? "PREFIX"} ${
    f.method ?? ""
  } ${f.path_begin}`;
}

/** The key of a backend within its application. */
export function backendKey(b: { backend_id: string; address: string }): string {
  return `${b.backend_id} ${b.address}`;
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/** The maps of the state and the writes that keep their indexes right. */
export class ConfigTables {
  /** address → listener. */
  readonly listeners = new Map<string, ListenerEntry>();
  /** app_id → application. */
  readonly apps = new Map<string, Application>();
  /** app_id → (backend_id + address) → backend. */
  readonly backends = new Map<string, Map<string, Backend>>();
  /** front key → front. */
  readonly fronts = new Map<string, FrontEntry>();
  /** TCP listener address → its one front. */
  readonly tcpFronts = new Map<string, TcpFront>();
  /** listener address → fingerprint → certificate. */
  readonly certs = new Map<string, Map<string, CertificateEntry>>();
  #frontsByApp = new Map<string, number>();
  #frontsByListener = new Map<string, number>();
  #backendCount = 0;

  /** Number of backends over all applications. */
  get backendCount(): number {
    return this.#backendCount;
  }

  /** Number of fronts routing to application `id`. */
  frontsOfApp(id: string): number {
    return this.#frontsByApp.get(id) ?? 0;
  }

  /** Number of fronts on the listener at `address`. */
  frontsOfListener(address: string): number {
    return this.#frontsByListener.get(address) ?? 0;
  }

  /** Removes a listener and the certificates it held. */
  deleteListener(address: string): void {
    this.listeners.delete(address);
    this.certs.delete(address);
  }

  /** Removes an application and its (empty) backend map. */
  deleteApp(id: string): void {
    this.apps.delete(id);
    this.backends.delete(id);
  }

  /** Adds a front under `key` (or updates `replacing`, the front already there). */
  addFront(key: string, entry: FrontEntry, replacing?: HttpFront): void {
    if (replacing) this.deleteFront(key, replacing);
    this.fronts.set(key, entry);
    if (entry.front.app_id !== null) bump(this.#frontsByApp, entry.front.app_id, 1);
    bump(this.#frontsByListener, entry.front.address, 1);
  }

  /** Removes the front under `key`. */
  deleteFront(key: string, front: HttpFront): void {
    this.fronts.delete(key);
    if (front.app_id !== null) bump(this.#frontsByApp, front.app_id, -1);
    bump(this.#frontsByListener, front.address, -1);
  }

  /** Sets the front of a TCP listener. */
  addTcpFront(front: TcpFront): void {
    this.tcpFronts.set(front.address, front);
    bump(this.#frontsByApp, front.app_id, 1);
    bump(this.#frontsByListener, front.address, 1);
  }

  /** Removes the front of a TCP listener. */
  deleteTcpFront(front: TcpFront): void {
    this.tcpFronts.delete(front.address);
    bump(this.#frontsByApp, front.app_id, -1);
    bump(this.#frontsByListener, front.address, -1);
  }

  /** Adds or replaces a backend. */
  setBackend(backend: Backend): void {
    let map = this.backends.get(backend.app_id);
    if (!map) this.backends.set(backend.app_id, map = new Map());
    const key = backendKey(backend);
    if (!map.has(key)) this.#backendCount++;
    map.set(key, backend);
  }

  /** Removes backends of application `appId` by key. */
  deleteBackends(appId: string, keys: readonly string[]): void {
    const current = this.backends.get(appId);
    if (!current) return;
    for (const key of keys) if (current.delete(key)) this.#backendCount--;
    if (current.size === 0) this.backends.delete(appId);
  }

  /** Adds or replaces a certificate on a listener. */
  setCertificate(address: string, fingerprint: string, entry: CertificateEntry): void {
    const map = this.certs.get(address) ?? new Map<string, CertificateEntry>();
    map.set(fingerprint, entry);
    this.certs.set(address, map);
  }

  /** Removes a certificate from the listeners at `addresses`. */
  deleteCertificate(addresses: readonly string[], fingerprint: string): void {
    for (const address of addresses) {
      const map = this.certs.get(address);
      map?.delete(fingerprint);
      if (map && map.size === 0) this.certs.delete(address);
    }
  }
}
