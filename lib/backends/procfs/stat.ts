/** Parsing /proc/<pid>/stat (read through the {@linkcode ProcReader}). */

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
export function parseStat(text: string | undefined): ProcStat | null {
  if (text === undefined) return null;
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

/** The /proc/<pid>/stat path. */
export function statPath(pid: number): string {
  return `/proc/${pid}/stat`;
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
