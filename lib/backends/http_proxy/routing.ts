/**
 * The routing state of one proxy worker: clusters with their backends (balancing.ts picks one,
 * backend_health.ts keeps each one's retry back-off and load), and the fronts, matched by
 * `front_router.ts` (sozu 0.14's router; for 0.13 fronts: exact hostname first, then a one-label
 * `*.` wildcard, and the longest raw `pathBegin` prefix of the path).
 * Every change replaces arrays instead of mutating them, so an exchange in flight keeps the view
 * it started with.
 */
import { type PickContext, pickFrom, sameWeights, weightOf } from "./balancing.ts";
import { BackendHealth } from "./backend_health.ts";
import { BackendCounters } from "./backend_stats.ts";
import { FrontRouter } from "./front_router.ts";
import type { BackendSpec, ClusterSpec, FrontSpec, ProxyEvent } from "./model.ts";
import { createRandom, type RandomSource } from "./prng.ts";

/** A backend as the worker keeps it: its spec, its live counters and its health. */
export interface RoutedBackend extends BackendSpec {
  readonly counters: BackendCounters;
  readonly health: BackendHealth;
}

/**
 * An event of one worker: a {@linkcode ProxyEvent} without the worker id, or the re-arming of a
 * cluster's NO_AVAILABLE_BACKENDS (a connection worked again), which the data plane needs to
 * merge the workers' events.
 */
export type RoutingEvent =
  | DistributiveOmitWorker<ProxyEvent>
  | { type: "CLUSTER_AVAILABLE"; clusterId: string };

type DistributiveOmitWorker<T> = T extends unknown ? Omit<T, "workerId"> : never;

/** Options for a {@linkcode RoutingTable}. */
export interface RoutingOptions {
  /** The tick clock (the backend pool's `clock`, ms), read for back-off windows. */
  clock?: { readonly clock: number };
  /** Random source for the random policies and back-off. @default {a crypto-seeded one} */
  random?: RandomSource;
  /** One back-off unit, ms (sozu: one second). @default {1000} */
  retryUnitMs?: number;
  /** Told every health event. */
  onEvent?: (event: RoutingEvent) => void;
}

/** A cluster as the worker keeps it. */
export interface ClusterState {
  id: string;
  spec: ClusterSpec | null;
  /** Non-backup backends, in insertion order. */
  primary: RoutedBackend[];
  /** Backup backends, used when no primary one can open. */
  backups: RoutedBackend[];
  /** Whether all primaries (backups) have the same weight: plain round robin. */
  primaryUniform: boolean;
  backupsUniform: boolean;
  /** Round-robin counter. */
  next: number;
  /** NO_AVAILABLE_BACKENDS is armed (sent once, re-armed by a working connection). */
  available: boolean;
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
  #clock: { readonly clock: number };
  #random: RandomSource;
  #retryUnitMs: number;
  #onEvent: (event: RoutingEvent) => void;
  #pick: PickContext;

  constructor(options: RoutingOptions = {}) {
    this.#clock = options.clock ?? {
      get clock() {
        return Date.now();
      },
    };
    this.#random = options.random ?? createRandom();
    this.#pick = { cluster: null!, tried: null, now: 0, random: this.#random };
    this.#retryUnitMs = options.retryUnitMs ?? 1000;
    this.#onEvent = options.onEvent ?? (() => {});
  }

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
      c = {
        id,
        spec: null,
        primary: [],
        backups: [],
        primaryUniform: true,
        backupsUniform: true,
        next: 0,
        available: true,
        keys: new Set(),
      };
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
    // keeping its counters and health (retry state, load).
    const key = `${order.backendId}\u0000${order.address}`;
    if (!c.keys.has(key)) {
      c.keys.add(key);
      const spec: RoutedBackend = {
        ...order,
        counters: new BackendCounters(),
        health: new BackendHealth(),
      };
      const list = spec.backup ? c.backups : c.primary;
      list.push(spec);
      // O(1) for the common append: still uniform when the new weight is the first one's.
      const uniform = weightOf(list[0]!) === weightOf(spec);
      if (spec.backup) c.backupsUniform &&= uniform;
      else c.primaryUniform &&= uniform;
      return;
    }
    const list = order.backup ? c.backups : c.primary;
    const other = order.backup ? c.primary : c.backups;
    const at = list.findIndex(same);
    if (at >= 0) list[at] = { ...order, counters: list[at]!.counters, health: list[at]!.health };
    else {
      const was = other.findIndex(same);
      const counters = was >= 0 ? other[was]!.counters : new BackendCounters();
      const health = was >= 0 ? other[was]!.health : new BackendHealth();
      if (was >= 0) other.splice(was, 1);
      list.push({ ...order, counters, health });
    }
    this.#weightsChanged(c);
  }

  #weightsChanged(c: ClusterState): void {
    c.primaryUniform = sameWeights(c.primary);
    c.backupsUniform = sameWeights(c.backups);
  }

  /** Every backend of every cluster, primaries first. */
  *backends(): Iterable<RoutedBackend> {
    for (const c of this.#clusters.values()) {
      yield* c.primary;
      yield* c.backups;
    }
  }

  /**
   * Takes a backend out of rotation. Exchanges in flight keep their connection; once none is
   * left (now, or when the last one ends) REMOVED_BACKEND_HAS_NO_CONNECTIONS is sent.
   */
  removeBackend(clusterId: string, backendId: string, address: string): void {
    const c = this.#clusters.get(clusterId);
    const match = (b: BackendSpec) => b.backendId === backendId && b.address === address;
    const gone = c ? [...c.primary.filter(match), ...c.backups.filter(match)] : [];
    if (c) {
      c.keys.delete(`${backendId}\u0000${address}`);
      c.primary = c.primary.filter((b) => !match(b));
      c.backups = c.backups.filter((b) => !match(b));
      this.#weightsChanged(c);
    }
    const busy = gone.find((b) => b.health.active > 0);
    if (busy) busy.health.removed = true;
    else {this.#onEvent({
        type: "REMOVED_BACKEND_HAS_NO_CONNECTIONS",
        clusterId,
        backendId,
        address,
      });}
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
   * A backend of the cluster by its policy among those that can open (not in a retry back-off)
   * and are not in `tried`; backups only when no primary is left. Null when none is: then, on
   * a request's first pick, NO_AVAILABLE_BACKENDS is sent (once until a connection works again).
   */
  pickBackend(
    cluster: ClusterState,
    tried: BackendSpec[] | null,
    now: number = this.#clock.clock,
  ): RoutedBackend | null {
    // One context object reused by every pick (picks are synchronous): no allocation per pick.
    const context = this.#pick;
    context.cluster = cluster;
    context.tried = tried;
    context.now = now;
    const picked = pickFrom(cluster.primary, cluster.primaryUniform, context) ??
      pickFrom(cluster.backups, cluster.backupsUniform, context);
    if (picked === null && tried === null && cluster.available) {
      cluster.available = false;
      this.#onEvent({ type: "NO_AVAILABLE_BACKENDS", clusterId: cluster.id });
    }
    return picked;
  }

  /** A new connection to the backend worked: resets its back-off (BACKEND_UP if it was down). */
  connected(cluster: ClusterState, backend: RoutedBackend, now: number): void {
    backend.counters.connected(now);
    if (backend.health.succeeded() === "up") this.#backendEvent("BACKEND_UP", backend);
    if (!cluster.available) {
      cluster.available = true;
      this.#onEvent({ type: "CLUSTER_AVAILABLE", clusterId: cluster.id });
    }
  }

  /** A connection attempt failed: counted, and a back-off starts (BACKEND_DOWN at the 6th). */
  connectFailed(backend: RoutedBackend, error: string, now: number): void {
    backend.counters.failed(error, now);
    const change = backend.health.failed(now, this.#random, this.#retryUnitMs);
    if (change === "down") this.#backendEvent("BACKEND_DOWN", backend);
  }

  /** An exchange took a connection to the backend. */
  begin(backend: RoutedBackend): void {
    backend.health.active++;
  }

  /** An exchange let go of its backend connection. */
  end(backend: RoutedBackend): void {
    const health = backend.health;
    if (--health.active === 0 && health.removed) {
      health.removed = false;
      this.#backendEvent("REMOVED_BACKEND_HAS_NO_CONNECTIONS", backend);
    }
  }

  #backendEvent(
    type: "BACKEND_DOWN" | "BACKEND_UP" | "REMOVED_BACKEND_HAS_NO_CONNECTIONS",
    b: RoutedBackend,
  ): void {
    this.#onEvent({ type, clusterId: b.clusterId, backendId: b.backendId, address: b.address });
  }
}
