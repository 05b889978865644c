/**
 * The routing state of one proxy worker: clusters with their backends (round robin), and per
 * listener a hostname index of fronts. Lookup: exact hostname first, then a one-label `*.`
 * wildcard; among the host's fronts the longest raw `pathBegin` prefix of the path wins.
 * Every change replaces arrays instead of mutating them, so an exchange in flight keeps the view
 * it started with.
 */
import { BackendCounters } from "./backend_stats.ts";
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

interface HostIndex {
  exact: Map<string, FrontSpec[]>;
  wildcard: Map<string, FrontSpec[]>;
}

function insertFront(list: FrontSpec[] | undefined, front: FrontSpec): FrontSpec[] {
  const out = (list ?? []).filter((f) => f.pathBegin !== front.pathBegin);
  out.push(front);
  out.sort((a, b) => b.pathBegin.length - a.pathBegin.length);
  return out;
}

function pickFront(list: FrontSpec[] | undefined, path: string): FrontSpec | null {
  if (list === undefined) return null;
  for (const front of list) {
    if (front.pathBegin === "" || path.startsWith(front.pathBegin)) return front;
  }
  return null;
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
  #fronts = new Map<string, HostIndex>();
  #frontCount = 0;

  /** Number of fronts configured. */
  get frontCount(): number {
    return this.#frontCount;
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

  addFront(front: FrontSpec): void {
    let index = this.#fronts.get(front.listener);
    if (!index) {
      index = { exact: new Map(), wildcard: new Map() };
      this.#fronts.set(front.listener, index);
    }
    const host = front.hostname.toLowerCase();
    const [map, key] = host.startsWith("*.")
      ? [index.wildcard, host.slice(1)]
      : [index.exact, host];
    const before = map.get(key);
    const had = before?.some((f) => f.pathBegin === front.pathBegin) ?? false;
    map.set(key, insertFront(before, front));
    if (!had) this.#frontCount++;
  }

  removeFront(front: FrontSpec): void {
    const index = this.#fronts.get(front.listener);
    if (!index) return;
    const host = front.hostname.toLowerCase();
    const [map, key] = host.startsWith("*.")
      ? [index.wildcard, host.slice(1)]
      : [index.exact, host];
    const before = map.get(key);
    if (!before) return;
    const after = before.filter((f) =>
      !(f.pathBegin === front.pathBegin && f.clusterId === front.clusterId)
    );
    if (after.length === before.length) return;
    this.#frontCount -= before.length - after.length;
    if (after.length === 0) map.delete(key);
    else map.set(key, after);
  }

  /** Drops every front of a listener. */
  removeListenerFronts(listener: string): void {
    const index = this.#fronts.get(listener);
    if (!index) return;
    for (const list of index.exact.values()) this.#frontCount -= list.length;
    for (const list of index.wildcard.values()) this.#frontCount -= list.length;
    this.#fronts.delete(listener);
  }

  /** The front for a normalised host and a path on a listener, or null. */
  lookup(listener: string, host: string, path: string): FrontSpec | null {
    const index = this.#fronts.get(listener);
    if (!index) return null;
    const exact = pickFront(index.exact.get(host), path);
    if (exact) return exact;
    const dot = host.indexOf(".");
    if (dot <= 0) return null;
    return pickFront(index.wildcard.get(host.slice(dot)), path);
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
