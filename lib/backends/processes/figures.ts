/**
 * Live figures of the supervised processes: CPU from deltas of /proc/<pid>/stat ticks between
 * samples, RSS from the same read, and listening ports of each process tree (see ports.ts), all
 * from one batch read of /proc per sample.
 */
import { CLOCK_TICKS, parseStat, type ProcStat, statPath } from "../procfs/mod.ts";
import { PortIndex } from "./ports.ts";
import type { ProcReader } from "./proc_reader.ts";
import { type ExitRecord, probeExit, type ProcessRecord } from "./records.ts";

/** A running process with its live figures. */
export interface ProcessFigures {
  record: ProcessRecord;
  /** % of one CPU since the previous sample (0 on the first). */
  cpuPercent: number;
  rssBytes: number;
  ports: number[];
}

/** Keeps the previous CPU reading of each process and the port index between samples. */
export class ProcessSampler {
  #reader: ProcReader;
  #pageBytes: number;
  #cpu = new Map<number, { ticks: number; at: number }>();
  #ports = new PortIndex();

  constructor(reader: ProcReader, pageBytes = 4096) {
    this.#reader = reader;
    this.#pageBytes = pageBytes;
  }

  /** A process just started: its first CPU reading, and the ports are rescanned. */
  started(pid: number, stat: ProcStat | null): void {
    if (stat) this.#cpu.set(pid, { ticks: stat.cpuTicks, at: performance.now() });
    this.#ports.invalidate();
  }

  /** A process ended. */
  forget(pid: number): void {
    this.#cpu.delete(pid);
  }

  /** Figures of the `live` processes still running; each one seen gone is passed to `onGone`. */
  async sample(
    live: readonly ProcessRecord[],
    onGone: (record: ProcessRecord, exit: ExitRecord) => void,
  ): Promise<ProcessFigures[]> {
    if (live.length === 0) return [];
    const pids = live.map((r) => r.pid);
    const plan = this.#ports.plan(pids);
    const files = await this.#reader.readFiles([
      ...pids.map(statPath),
      ...plan.tables,
      ...plan.children,
    ]);
    const now = performance.now();
    const out: ProcessFigures[] = [];
    for (const record of live) {
      const stat = parseStat(files.get(statPath(record.pid)));
      const exit = probeExit(record, stat);
      if (exit || !stat) {
        if (exit) onGone(record, exit);
        continue;
      }
      out.push({
        record,
        cpuPercent: this.#cpuPercent(record.pid, stat, now),
        rssBytes: stat.rssPages * this.#pageBytes,
        ports: [],
      });
    }
    const alive = out.map((f) => f.record.pid);
    const ports = await this.#ports.complete(plan, alive, files, this.#reader);
    for (const f of out) f.ports = ports.get(f.record.pid) ?? [];
    return out;
  }

  #cpuPercent(pid: number, stat: ProcStat, now: number): number {
    const prev = this.#cpu.get(pid);
    let cpu = 0;
    if (prev && now > prev.at) {
      cpu = ((stat.cpuTicks - prev.ticks) / CLOCK_TICKS) / ((now - prev.at) / 1000) * 100;
    }
    this.#cpu.set(pid, { ticks: stat.cpuTicks, at: now });
    return Math.max(0, Math.round(cpu * 10) / 10);
  }
}
