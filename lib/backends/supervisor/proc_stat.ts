/** Reading one process's figures from /proc/<pid>/stat (and the page size, once). */

/** The fields of /proc/<pid>/stat the supervisor uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  /** R, S, D, Z, T, … */
  state: string;
  ppid: number;
  pgrp: number;
  /** User + system CPU time in clock ticks. */
  cpuTicks: number;
  /** Start time after boot in clock ticks: with the pid, it names one process for good. */
  startTime: number;
  rssPages: number;
  /** Exit status in waitpid(2) form (Linux ≥ 3.5); meaningful only for a zombie. */
  exitCode: number | null;
}

/** Clock ticks per second of /proc times (USER_HZ, 100 on every Linux ABI). */
export const CLOCK_TICKS = 100;

/** Parses the text of /proc/<pid>/stat; null when it is not one. */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).trimEnd().split(" ");
  const num = (i: number) => Number(rest[i]);
  const pid = Number(text.slice(0, open).trim());
  if (!Number.isInteger(pid) || rest.length < 22) return null;
  const exit = rest.length > 49 ? num(49) : NaN;
  return {
    pid,
    comm: text.slice(open + 1, close),
    state: rest[0] ?? "?",
    ppid: num(1),
    pgrp: num(2),
    cpuTicks: num(11) + num(12),
    startTime: num(19),
    rssPages: num(21),
    exitCode: Number.isFinite(exit) ? exit : null,
  };
}

const statBuffer = new Uint8Array(4096);
const decoder = new TextDecoder();

/** Reads /proc/<pid>/stat (one open + read into a shared buffer); null when the process is gone. */
export function readStat(pid: number): ProcStat | null {
  let file: Deno.FsFile | null = null;
  try {
    file = Deno.openSync(`/proc/${pid}/stat`);
    const n = file.readSync(statBuffer);
    return n === null ? null : parseStat(decoder.decode(statBuffer.subarray(0, n)));
  } catch {
    return null;
  } finally {
    file?.close();
  }
}

let pageSize = 0;

/** Bytes per page, derived once from this process's VmRSS and stat rss. */
export function pageBytes(): number {
  if (pageSize > 0) return pageSize;
  pageSize = 4096;
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    const pages = readStat(Deno.pid)?.rssPages ?? 0;
    if (kb > 0 && pages > 0) {
      const ratio = (kb * 1024) / pages;
      for (const size of [4096, 16384, 65536]) {
        if (Math.abs(ratio - size) / size < 0.2) pageSize = size;
      }
    }
  } catch {
    // keep the default
  }
  return pageSize;
}

/** Converts a waitpid(2) status to an exit code and signal name. */
export function decodeWaitStatus(status: number): { code: number | null; signal: string | null } {
  const sig = status & 0x7f;
  if (sig === 0) return { code: (status >> 8) & 0xff, signal: null };
  return { code: null, signal: signalName(sig) };
}

const SIGNALS: Record<number, string> = {
  1: "SIGHUP",
  2: "SIGINT",
  3: "SIGQUIT",
  6: "SIGABRT",
  9: "SIGKILL",
  11: "SIGSEGV",
  13: "SIGPIPE",
  14: "SIGALRM",
  15: "SIGTERM",
};

/** The name of a signal number (or `SIG<n>`). */
export function signalName(n: number): string {
  return SIGNALS[n] ?? `SIG${n}`;
}
