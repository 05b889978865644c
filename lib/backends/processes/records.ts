/**
 * What the supervisor remembers about each process it started, and how an exit is read from
 * /proc: a record whose pid no longer shows the recorded start time has gone (pid reuse cannot
 * fool it), a zombie still shows its wait status.
 */
import { decodeWaitStatus, parseStat, type ProcStat, statPath } from "../procfs/mod.ts";
import type { ProcReader } from "./proc_reader.ts";

/** How a process ended. */
export interface ExitRecord {
  code: number | null;
  signal: string | null;
  /** Unix ms when the exit was noticed. */
  at: number;
  /** `wait`: exact (our child); `proc`: read from the zombie; `gone`: status unknown. */
  source: "wait" | "proc" | "gone";
}

/** One supervised process, as stored durably. */
export interface ProcessRecord {
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks after boot); guards against pid reuse. */
  startTime: number;
  pgid: number;
  argv: string[];
  /** The resolved executable. */
  path: string;
  title: string;
  cwd: string;
  uid: number | null;
  gid: number | null;
  log: string;
  /** Unix ms. */
  startedAt: number;
  /** The request that started it (for duplicate suppression). */
  requestId: string | null;
  exit: ExitRecord | null;
}

/** The exit seen in /proc for a record, or null while it runs. */
export function probeExit(record: ProcessRecord, stat: ProcStat | null): ExitRecord | null {
  if (stat && stat.startTime === record.startTime) {
    if (stat.state !== "Z" && stat.state !== "X") return null;
    const decoded = stat.exitCode === null
      ? { code: null, signal: null }
      : decodeWaitStatus(stat.exitCode);
    return { ...decoded, at: Date.now(), source: "proc" };
  }
  return { code: null, signal: null, at: Date.now(), source: "gone" };
}

/** /proc/<pid>/stat of each pid (one batch read); pids without one are absent. */
export async function readStats(
  reader: ProcReader,
  pids: readonly number[],
): Promise<Map<number, ProcStat>> {
  const out = new Map<number, ProcStat>();
  if (pids.length === 0) return out;
  const files = await reader.readFiles(pids.map(statPath));
  for (const pid of pids) {
    const stat = parseStat(files.get(statPath(pid)));
    if (stat) out.set(pid, stat);
  }
  return out;
}
