/**
 * Live figures of each backend, kept by every worker for the status page: plain counters bumped
 * on the exchange path (a request count, the outcome of the last connection attempt) and a
 * latency histogram of sampled exchanges, folded once a second (from the engine's tick, never per
 * request) into a one-minute ring of requests/s and p99. {@linkcode mergeBackendFigures} adds up
 * the workers' figures.
 */
import type { BackendFigures } from "./model.ts";
import type { RoutedBackend } from "./routing.ts";

/** Points kept per series: one per second over the last minute. */
export const SERIES_SECONDS = 60;
/** Exchanges timed in full each second before timing drops to one in 16. */
const TIMED_PER_SECOND = 64;
/** Buckets of a latency histogram (also used by traffic_stats.ts). */
export const BUCKETS = 128;

/**
 * The histogram bucket of a latency: four buckets per power of two of microseconds (each at most
 * 25 % wide), 0–3 µs exactly.
 */
export function bucketOf(ms: number): number {
  const us = Math.min(ms * 1000, 0x7fff_ffff) >>> 0;
  if (us < 4) return us;
  const k = 31 - Math.clz32(us);
  return Math.min(BUCKETS - 1, k * 4 + ((us >>> (k - 2)) & 3));
}

/** The upper bound of a bucket, ms. */
export function bucketLimitMs(index: number): number {
  if (index < 4) return (index + 1) / 1000;
  const k = index >> 2;
  return ((5 + (index & 3)) * 2 ** (k - 2)) / 1000;
}

/** The 99th percentile of a histogram (the upper bound of its bucket), ms; 0 when empty. */
function p99Of(histogram: Uint32Array): number {
  let total = 0;
  for (let i = 0; i < BUCKETS; i++) total += histogram[i]!;
  if (total === 0) return 0;
  const rank = Math.ceil(total * 0.99);
  let seen = 0;
  for (let i = 0; i < BUCKETS; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return bucketLimitMs(i);
  }
  return bucketLimitMs(BUCKETS - 1);
}

/** The counters of one backend in one worker. */
export class BackendCounters {
  /** Exchanges relayed to the end, since the backend was added. */
  requests = 0;
  /** Failed connection attempts. */
  failures = 0;
  /** Whether the last connection attempt failed. */
  down = false;
  /** The engine's clock when `down` last changed (or was confirmed), ms. */
  stateAt = 0;
  lastError: string | null = null;
  /** The engine's clock at the last error, ms. */
  lastErrorAt = 0;
  #histogram = new Uint32Array(BUCKETS);
  #timed = 0;
  #requestsAtRoll = 0;
  #rps = new Float64Array(SERIES_SECONDS);
  #p99 = new Float64Array(SERIES_SECONDS);
  /** Index of the newest point, and its Unix second. */
  #head = 0;
  #second = 0;

  /** Whether to time this exchange: every one early in a second, then one in 16. */
  timing(): boolean {
    return this.#timed < TIMED_PER_SECOND || (this.requests & 15) === 0;
  }

  /** Records the latency of a timed exchange. */
  record(ms: number): void {
    this.#histogram[bucketOf(ms)]!++;
    this.#timed++;
  }

  /** A connection attempt worked. */
  connected(now: number): void {
    this.down = false;
    this.stateAt = now;
  }

  /** A connection attempt (or the request write) failed. */
  failed(error: string, now: number): void {
    this.failures++;
    this.down = true;
    this.stateAt = now;
    this.lastError = error;
    this.lastErrorAt = now;
  }

  /** Closes the seconds up to `second` (exclusive of the running one); called from the tick. */
  roll(second: number): void {
    if (this.#second === 0) {
      this.#second = second;
      return;
    }
    const gap = second - this.#second;
    if (gap <= 0) return;
    const closed = this.requests - this.#requestsAtRoll;
    this.#requestsAtRoll = this.requests;
    for (let i = 0; i < Math.min(gap, SERIES_SECONDS); i++) {
      this.#head = (this.#head + 1) % SERIES_SECONDS;
      this.#rps[this.#head] = i === 0 ? closed : 0;
      this.#p99[this.#head] = i === 0 ? p99Of(this.#histogram) : 0;
    }
    this.#second = second;
    this.#histogram.fill(0);
    this.#timed = 0;
  }

  /** The series, oldest first, ending with the last closed second. */
  series(): { second: number; rps: number[]; p99: number[] } {
    const rps: number[] = [];
    const p99: number[] = [];
    for (let i = 1; i <= SERIES_SECONDS; i++) {
      const at = (this.#head + i) % SERIES_SECONDS;
      rps.push(this.#rps[at]!);
      p99.push(this.#p99[at]!);
    }
    return { second: this.#second, rps, p99 };
  }
}

/** Adds `from` into `into`, aligned on their last second; `pick` combines two points. */
function mergeSeries(
  into: number[],
  intoSecond: number,
  from: number[],
  fromSecond: number,
  pick: (a: number, b: number) => number,
): void {
  const shift = intoSecond - fromSecond;
  for (let i = 0; i < from.length; i++) {
    const at = i - shift;
    if (at >= 0 && at < into.length) into[at] = pick(into[at]!, from[i]!);
  }
}

/**
 * One figure per backend from the workers' figures: counts and series added up (p99 is the
 * slowest worker's), the state of the worker that tried last, the latest error.
 */
export function mergeBackendFigures(perWorker: readonly BackendFigures[][]): BackendFigures[] {
  const out = new Map<string, BackendFigures>();
  for (const list of perWorker) {
    for (const f of list) {
      const key = `${f.clusterId}\u0000${f.backendId}\u0000${f.address}`;
      const seen = out.get(key);
      if (!seen) {
        out.set(key, { ...f, rps: [...f.rps], p99: [...f.p99] });
        continue;
      }
      const second = Math.max(seen.second, f.second);
      const rps = new Array<number>(SERIES_SECONDS).fill(0);
      const p99 = new Array<number>(SERIES_SECONDS).fill(0);
      for (const s of [seen, f]) {
        mergeSeries(rps, second, s.rps, s.second, (a, b) => a + b);
        mergeSeries(p99, second, s.p99, s.second, Math.max);
      }
      const later = (f.stateAt ?? 0) > (seen.stateAt ?? 0) ? f : seen;
      const errorFrom = (f.lastErrorAt ?? 0) > (seen.lastErrorAt ?? 0) ? f : seen;
      out.set(key, {
        ...seen,
        active: seen.active + f.active,
        requests: seen.requests + f.requests,
        failures: seen.failures + f.failures,
        down: later.down,
        stateAt: later.stateAt,
        lastError: errorFrom.lastError,
        lastErrorAt: errorFrom.lastErrorAt,
        second,
        rps,
        p99,
      });
    }
  }
  return [...out.values()];
}

/** Closes the running second of every backend (the engine's tick calls it once a second). */
export function rollBackends(backends: Iterable<RoutedBackend>, second: number): void {
  for (const b of backends) b.counters.roll(second);
}

/** The figures of one worker's backends; `lent` counts the connections in use per address. */
export function backendFigures(
  backends: Iterable<RoutedBackend>,
  lent: ReadonlyMap<string, number>,
): BackendFigures[] {
  const out: BackendFigures[] = [];
  for (const b of backends) {
    const c = b.counters;
    out.push({
      clusterId: b.clusterId,
      backendId: b.backendId,
      address: b.address,
      backup: b.backup ?? false,
      active: lent.get(b.address) ?? 0,
      requests: c.requests,
      failures: c.failures,
      down: c.down,
      stateAt: c.stateAt,
      lastError: c.lastError,
      lastErrorAt: c.lastErrorAt,
      ...c.series(),
    });
  }
  return out;
}
