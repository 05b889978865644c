/**
 * The health of one backend in one worker, as sozu keeps it (`lib/src/retry.rs`,
 * `lib/src/backends.rs`): every failed connection attempt outside a back-off window starts one
 * of a random 1..2^n retry units (n = consecutive failures before it, capped at
 * {@linkcode MAX_TRIES}) during which the backend is skipped; the {@linkcode MAX_TRIES}th
 * consecutive failure marks it down (one BACKEND_DOWN), and the first successful connection
 * resets it (BACKEND_UP when it was down; the data plane merges the workers' verdicts). It also holds the live load figures the balancing
 * policies read: exchanges in flight and a peak-EWMA latency.
 */
import type { RandomSource } from "./prng.ts";

/** Consecutive failures after which a backend is down (sozu's max_tries). */
export const MAX_TRIES = 6;
/** Peak EWMA: decay time constant and initial value, ms. */
export const EWMA_DECAY_MS = 1000;
export const EWMA_INITIAL_MS = 50;

/** What a connection outcome changed. */
export type HealthChange = "down" | "up" | null;

/** Health and load of one backend. */
export class BackendHealth {
  /** Consecutive failed connection attempts (0 after a success). */
  failures = 0;
  /** Clock (ms) before which no new connection is attempted. */
  retryAt = 0;
  /** Exchanges in flight on this backend in this worker. */
  active = 0;
  /** Peak-EWMA latency, ms, and the tick clock of its last sample or read. */
  rtt = EWMA_INITIAL_MS;
  rttAt = 0;
  /** Smooth weighted round robin: the running weight. */
  current = 0;
  /** Removed from the configuration: report when the last exchange ends. */
  removed = false;

  /** Whether the failures reached {@linkcode MAX_TRIES}. */
  get down(): boolean {
    return this.failures >= MAX_TRIES;
  }

  /**
   * A connection attempt failed at `now`; `unitMs` is one back-off unit (sozu: one second).
   * Inside a back-off window it changes nothing (concurrent failures count once).
   */
  failed(now: number, random: RandomSource, unitMs: number): HealthChange {
    if (now < this.retryAt) return null;
    const wasDown = this.down;
    const n = Math.min(this.failures, MAX_TRIES);
    const span = 2 ** n; // units: 1 .. 2^n
    const units = span <= 1 ? 1 : 1 + Math.floor(random() * (span - 1));
    this.retryAt = now + units * unitMs;
    this.failures++;
    return !wasDown && this.down ? "down" : null;
  }

  /**
   * A connection attempt worked: "up" when it had failed before (down here, or maybe down in
   * another worker: the data plane forwards BACKEND_UP only for a backend it reported down).
   */
  succeeded(): HealthChange {
    if (this.failures === 0) return null;
    this.failures = 0;
    this.retryAt = 0;
    return "up";
  }

  /**
   * Feeds the peak EWMA a latency sample at `now` (the tick clock, ms): a slower sample replaces
   * the value at once, a faster one moves it with weight exp(-elapsed / 1 s).
   */
  sample(ms: number, now: number): void {
    if (ms >= this.rtt) this.rtt = ms;
    else {
      const elapsed = this.rttAt === 0 ? 0 : Math.max(0, now - this.rttAt);
      const w = Math.exp(-elapsed / EWMA_DECAY_MS);
      this.rtt = this.rtt * w + ms * (1 - w);
    }
    this.rttAt = now;
  }

  /**
   * Peak-EWMA cost at `now`: (active + 1) × rtt, the rtt first decayed towards 0 for the time
   * since the last sample or read (as sozu's `PeakEWMA::get`: an idle backend is tried again).
   */
  ewmaCost(now: number): number {
    if (this.rttAt === 0) this.rttAt = now;
    else if (now > this.rttAt) {
      this.rtt *= Math.exp(-(now - this.rttAt) / EWMA_DECAY_MS);
      this.rttAt = now;
    }
    return (this.active + 1) * this.rtt;
  }
}

/** Whether a new connection to the backend may be attempted at `now` (not in a back-off). */
export function canOpen(backend: { readonly health: BackendHealth }, now: number): boolean {
  return now >= backend.health.retryAt;
}
