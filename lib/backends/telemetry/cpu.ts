/**
 * Per-core CPU busy fraction from deltas of the per-core times `node:os` `cpus()` reports (the
 * kernel's /proc/stat figures, read natively, so no helper process is needed).
 */
import { cpus } from "node:os";

/** Cumulative time of one core. */
export interface CoreTimes {
  total: number;
  idle: number;
}

/** Parses the `cpuN` lines of /proc/stat (the aggregate `cpu` line is skipped). */
export function parseCpuTimes(text: string): CoreTimes[] {
  const out: CoreTimes[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("cpu") || line[3] === " ") continue;
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    // user nice system idle iowait irq softirq steal
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    out.push({ total, idle });
  }
  return out;
}

/** Per-core times now. */
export function readCpuTimes(): CoreTimes[] {
  return cpus().map((c) => {
    const t = c.times;
    return { total: t.user + t.nice + t.sys + t.idle + t.irq, idle: t.idle };
  });
}

/** Busy fraction per core between two readings, rounded to 0.01. */
export function busyFractions(before: readonly CoreTimes[], after: readonly CoreTimes[]): number[] {
  return after.map((now, i) => {
    const prev = before[i];
    if (!prev) return 0;
    const total = now.total - prev.total;
    if (total <= 0) return 0;
    const busy = 1 - (now.idle - prev.idle) / total;
    return Math.round(Math.min(1, Math.max(0, busy)) * 100) / 100;
  });
}

/**
 * Each `read()` returns the per-core fractions over the interval since the previous reading;
 * readings closer than `minIntervalMs` return the last figures (a burst of requests does not
 * shrink the interval to nothing).
 */
export class CpuSampler {
  #prev: { times: CoreTimes[]; at: number };
  #last: number[];
  #min: number;
  #read: () => CoreTimes[];

  constructor(options: { minIntervalMs?: number; read?: () => CoreTimes[] } = {}) {
    this.#min = options.minIntervalMs ?? 250;
    this.#read = options.read ?? readCpuTimes;
    const times = this.#read();
    this.#prev = { times, at: performance.now() };
    this.#last = times.map(() => 0);
  }

  /** Per-core busy fraction (0–1) over the last sampling interval. */
  read(): number[] {
    const now = performance.now();
    if (now - this.#prev.at < this.#min) return this.#last;
    const times = this.#read();
    this.#last = busyFractions(this.#prev.times, times);
    this.#prev = { times, at: now };
    return this.#last;
  }
}
