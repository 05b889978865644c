/**
 * The routing state of one proxy worker: clusters with their backends (round robin), and the
 * fronts, matched by `front_router.ts` (sozu 0.14's router; for 0.13 fronts: exact hostname
 * first, then a one-label `*.` wildcard, and the longest raw `pathBegin` prefix of the path).
 * Every change replaces arrays instead of mutating them, so an exchange in flight keeps the view
 * it started with.
 */
import { BackendCounters } from "./backend_stats.ts";
import { FrontRouter } from "./front_router.ts";
import type { BackendSpec, ClusterSpec, FrontSpec } from "./model.ts";

/** A backend as the worker keeps it: its spec and its live counters. */
export interface RoutedBackend extends BackendSpec {
  readonly counters: BackendCounters;
}

/** A cluster as the worker keeps it. */
export interface ClusterState {
  id: string;
  spec: ClusterSpec | null;
  /** Non-backup backends, in insertion order. */
  primary: RoutedBackend[];
  /** Backup backends, used when there is no primary one. */
  backups: RoutedBackend[];
  /** Round-robin counter. */
  next: number;
  /** `backendId NUL address` of every backend, for O(1) "is it new" checks. */
  keys: Set<string>;
}

/**
 * Normalises a Host value for lookup: lower case, the port and a trailing dot removed. Returns
 * null when the value is not a valid host (the request then gets 400).
 */
export function hostForLookup(raw: string): string | null {
  let host = raw;
  if (host.charCodeAt(0) === 91) {
    const close = host.indexOf("]");
    if (close < 0) return null;
    const rest = host.slice(close + 1);
    if (rest !== "" && !/^:[0-9]{0,5}$/.test(rest)) return null;
    host = host.slice(0, close + 1);
    return /^\[[0-9a-fA-F:.]+\]$/.test(host) ? host.toLowerCase() : null;
  }
  const colon = host.indexOf(":");
  if (colon >= 0) {
    if (!/^[0-9]{0,5}$/.test(host.slice(colon + 1))) return null;
    host = host.slice(0, colon);
  }
  if (host.endsWith(".")) host = host.slice(0, -1);
  if (host === "" || !/^[A-Za-z0-9._-]+$/.test(host)) return null;
  return host.toLowerCase();
}

/** Clusters, backends and fronts of one worker. */
export class RoutingTable {
  #clusters = new Map<string, ClusterState>();
  #fronts = new FrontRouter();

  /** Number of fronts configured. */
  get frontCount(): number {
    return this.#fronts.count;
  }

  /** A cluster's state (created empty when only backends were added). */
  cluster(id: string): ClusterState | undefined {
    return this.#clusters.get(id);
  }

  #ensure(id: string): ClusterState {
    let c = this.#clusters.get(id);
    if (!c) {
      c = { id, spec: null, primary: [], backups: [], next: 0, keys: new Set() };
      this.#clusters.set(id, c);
    }
    return c;
  }

  addCluster(spec: ClusterSpec): void {
    this.#ensure(spec.id).spec = spec;
  }

  removeCluster(id: string): void {
    this.#clusters.delete(id);
  }

  addBackend(order: BackendSpec): void {
    const c = this.#ensure(order.clusterId);
    const same = (b: BackendSpec) => b.backendId === order.backendId && b.address === order.address;
    // Picks are synchronous, so the lists are updated in place. A new backend is appended (O(1)
    // with the key set); an existing one is updated where it stands (and may move lists),
    // keeping its counters.
    const key = `${order.backendId}\u0000${order.address}`;
    if (!c.keys.has(key)) {
      c.keys.add(key);
      const spec: RoutedBackend = { ...order, counters: new BackendCounters() };
      (spec.backup ? c.backups : c.primary).push(spec);
      return;
    }
    const list = order.backup ? c.backups : c.primary;
    const other = order.backup ? c.primary : c.backups;
    const at = list.findIndex(same);
    if (at >= 0) list[at] = { ...order, counters: list[at]!.counters };
    else {
      const was = other.findIndex(same);
      const counters = was >= 0 ? other[was]!.counters : new BackendCounters();
      if (was >= 0) other.splice(was, 1);
      list.push({ ...order, counters });
    }
  }

  /** Every backend of every cluster, primaries first. */
  *backends(): Iterable<RoutedBackend> {
    for (const c of this.#clusters.values()) {
      yield* c.primary;
      yield* c.backups;
    }
  }

  removeBackend(clusterId: string, backendId: string, address: string): void {
    const c = this.#clusters.get(clusterId);
    if (!c) return;
    const keep = (b: BackendSpec) => !(b.backendId === backendId && b.address === address);
    c.keys.delete(`${backendId}\u0000${address}`);
    c.primary = c.primary.filter(keep);
    c.backups = c.backups.filter(keep);
  }

  /** Adds a front (throws when its path regex does not compile). */
  addFront(front: FrontSpec): void {
    this.#fronts.add(front);
  }

  removeFront(front: FrontSpec): void {
    this.#fronts.remove(front);
  }

  /** Drops every front of a listener. */
  removeListenerFronts(listener: string): void {
    this.#fronts.removeListener(listener);
  }

  /** The front for a normalised host, a path and a method on a listener, or null. */
  lookup(listener: string, host: string, path: string, method: string): FrontSpec | null {
    return this.#fronts.lookup(listener, host, path, method);
  }

  /**
   * The next backend of a cluster by round robin, skipping those in `tried`; backups only when
   * there is no primary backend. Null when none is left.
   */
  pickBackend(cluster: ClusterState, tried: BackendSpec[] | null): RoutedBackend | null {
    const list = cluster.primary.length > 0 ? cluster.primary : cluster.backups;
    const n = list.length;
    for (let k = 0; k < n; k++) {
      const b = list[cluster.next++ % n]!;
      if (cluster.next > 1e9) cluster.next = 0;
      if (tried === null || !tried.includes(b)) return b;
    }
    return null;
  }
}
