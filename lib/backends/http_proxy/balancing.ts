/**
 * The balancing policies over one list of backends (primaries or backups), as sozu 0.13 has
 * them: `round_robin` (smooth weighted when the weights differ), `random` weighted by `weight`
 * (uniform when every weight is 0), `least_loaded` by `load_metric`, and `power_of_two` (sozu's:
 * the two lowest-cost backends, then a coin flip). Only backends that can open (not in a retry
 * back-off) and were not tried by this request are candidates; a weight-0 backend is only picked
 * when no candidate has a positive weight. No pick allocates.
 */
import { canOpen } from "./backend_health.ts";
import type { BackendSpec, LoadMetric } from "./model.ts";
import type { RandomSource } from "./prng.ts";
import type { ClusterState, RoutedBackend } from "./routing.ts";

/** The weight of a backend (sozu: missing parameters count as 100). */
export function weightOf(b: BackendSpec): number {
  return b.weight ?? 100;
}

/** Whether every backend of a list has the same weight (round robin then needs no weights). */
export function sameWeights(list: readonly BackendSpec[]): boolean {
  for (const b of list) if (weightOf(b) !== weightOf(list[0]!)) return false;
  return true;
}

function usable(b: RoutedBackend, tried: readonly BackendSpec[] | null, now: number): boolean {
  return canOpen(b, now) && (tried === null || !tried.includes(b));
}

/** What a pick needs besides the list (one object per routing table, refilled per pick). */
export interface PickContext {
  cluster: ClusterState;
  tried: readonly BackendSpec[] | null;
  now: number;
  random: RandomSource;
}

function roundRobin(list: RoutedBackend[], uniform: boolean, c: PickContext): RoutedBackend | null {
  const n = list.length;
  if (uniform) {
    for (let k = 0; k < n; k++) {
      const b = list[c.cluster.next++ % n]!;
      if (c.cluster.next > 1e9) c.cluster.next = 0;
      if (usable(b, c.tried, c.now)) return b;
    }
    return null;
  }
  // Smooth weighted round robin (nginx's): every candidate gains its weight, the richest is
  // picked and pays the total back.
  let total = 0;
  let best: RoutedBackend | null = null;
  let zero: RoutedBackend | null = null;
  for (let i = 0; i < n; i++) {
    const b = list[i]!;
    if (!usable(b, c.tried, c.now)) continue;
    const w = weightOf(b);
    if (w === 0) {
      zero ??= b;
      continue;
    }
    b.health.current += w;
    total += w;
    if (best === null || b.health.current > best.health.current) best = b;
  }
  if (best === null) return zero === null ? null : roundRobin(list, true, c);
  best.health.current -= total;
  return best;
}

function weightedRandom(list: RoutedBackend[], c: PickContext): RoutedBackend | null {
  let total = 0;
  let count = 0;
  for (const b of list) {
    if (!usable(b, c.tried, c.now)) continue;
    total += weightOf(b);
    count++;
  }
  if (count === 0) return null;
  if (total > 0) {
    let r = c.random() * total;
    let last: RoutedBackend | null = null;
    for (const b of list) {
      const w = weightOf(b);
      if (w === 0 || !usable(b, c.tried, c.now)) continue;
      last = b;
      if ((r -= w) < 0) return b;
    }
    return last;
  }
  let k = Math.floor(c.random() * count);
  for (const b of list) {
    if (usable(b, c.tried, c.now) && k-- === 0) return b;
  }
  return null;
}

/** The load of a backend under a metric, divided by its weight (weight 0 sorts last). */
function costOf(b: RoutedBackend, metric: LoadMetric, now: number): number {
  const load = metric === "connection_time" ? b.health.ewmaCost(now) : b.health.active + 1;
  const w = weightOf(b);
  return w === 0 ? Infinity : load * 100 / w;
}

/**
 * The cheapest candidate (`second` false), or a coin flip between the two cheapest. Ties go
 * round robin: the scan starts one further each pick.
 */
function leastLoaded(
  list: RoutedBackend[],
  metric: LoadMetric,
  two: boolean,
  c: PickContext,
): RoutedBackend | null {
  const n = list.length;
  const start = c.cluster.next++ % n;
  if (c.cluster.next > 1e9) c.cluster.next = 0;
  let best: RoutedBackend | null = null;
  let bestCost = Infinity;
  let next: RoutedBackend | null = null;
  let nextCost = Infinity;
  for (let k = 0; k < n; k++) {
    const b = list[(start + k) % n]!;
    if (!usable(b, c.tried, c.now)) continue;
    const cost = costOf(b, metric, c.now);
    if (best === null || cost < bestCost) {
      next = best;
      nextCost = bestCost;
      best = b;
      bestCost = cost;
    } else if (next === null || cost < nextCost) {
      next = b;
      nextCost = cost;
    }
  }
  // A weight-0 backend is second only when nothing else is there.
  if (!two || next === null || (nextCost === Infinity && bestCost !== Infinity)) return best;
  return c.random() < 0.5 ? best : next;
}

/** Picks one backend of `list` by the cluster's policy, or null when none is usable. */
export function pickFrom(
  list: RoutedBackend[],
  uniform: boolean,
  c: PickContext,
): RoutedBackend | null {
  if (list.length === 0) return null;
  const spec = c.cluster.spec;
  switch (spec?.loadBalancing) {
    case "random":
      return weightedRandom(list, c);
    case "least_loaded":
      return leastLoaded(list, spec.loadMetric ?? "connections", false, c);
    case "power_of_two":
      return leastLoaded(list, spec.loadMetric ?? "connections", true, c);
    default:
      return roundRobin(list, uniform, c);
  }
}
