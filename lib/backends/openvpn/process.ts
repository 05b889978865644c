/**
 * Starting openvpn detached (its own session, no pipes) so it outlives the agent, and the
 * process facts the service needs to re-adopt it later: pid files, liveness, its command line.
 */
import { dirname } from "node:path";
import type { CommandRunner } from "../../core/mod.ts";
import { parseStat } from "../procfs/mod.ts";

/** What openvpn is started with. */
export interface LaunchSpec {
  /** The openvpn binary. */
  openvpn: string;
  /** Network namespace to run in (via `ip netns exec`), or "" for the agent's own. */
  netns: string;
  profile: string;
  management: string;
  pidFile: string;
  logFile: string;
  /** openvpn's `--script-security` level (0 disables every external script). */
  scriptSecurity: number;
  /** Extra arguments after ours (from the config). */
  extraArgs: readonly string[];
}

/** The argv openvpn runs with. */
export function openvpnArgv(spec: LaunchSpec): string[] {
  const args = [
    spec.openvpn,
    "--config",
    spec.profile,
    "--management",
    spec.management,
    "unix",
    "--management-hold",
    "--writepid",
    spec.pidFile,
    "--log-append",
    spec.logFile,
    "--script-security",
    String(spec.scriptSecurity),
    "--resolv-retry",
    "infinite",
    "--connect-retry",
    "5",
    "30",
    ...spec.extraArgs,
  ];
  return spec.netns ? ["ip", "netns", "exec", spec.netns, ...args] : args;
}

/** A launched openvpn. */
export interface Launched {
  pid: number;
  /** Resolves with the exit status once the process is reaped. */
  exited: Promise<Deno.CommandStatus>;
  /**
   * What openvpn printed before its log file took over (errors in the profile appear only
   * here). Resolves when openvpn points stdout/stderr at its log, or exits.
   */
  early: Promise<string>;
}

async function readHead(stream: ReadableStream<Uint8Array>, cap: number): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  try {
    for await (const chunk of stream) {
      if (text.length < cap) text += decoder.decode(chunk, { stream: true });
    }
  } catch {
    // closed
  }
  return text.slice(0, cap);
}

/**
 * Starts openvpn detached (own session). stdout/stderr are pipes only until openvpn opens its
 * `--log-append` file and moves them there, so nothing ties it to the agent afterwards.
 */
export function launchOpenvpn(spec: LaunchSpec): Launched {
  const argv = openvpnArgv(spec);
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  child.unref();
  const early = Promise.all([readHead(child.stdout, 4096), readHead(child.stderr, 4096)])
    .then(([a, b]) => (a + b).trim());
  return { pid: child.pid, exited: child.status, early };
}

/** Why a binary may not be used, or null when it is fine. */
export async function checkBinary(path: string, requireRoot: boolean): Promise<string | null> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    return `openvpn binary "${path}" not found`;
  }
  if (!info.isFile) return `openvpn binary "${path}" is not a regular file`;
  if (info.mode !== null && (info.mode & 0o022) !== 0) {
    return `openvpn binary "${path}" is writable by group or others (mode ${
      (info.mode & 0o777).toString(8)
    })`;
  }
  if (requireRoot && info.uid !== 0) return `openvpn binary "${path}" is not owned by root`;
  return null;
}

/** The pid in a pid file, or null. */
export async function readPidFile(path: string): Promise<number | null> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    const pid = Number(text);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/** State letter and argv of a process, or null when it is gone. */
export interface ProcessInfo {
  state: string;
  argv: string[];
}

/**
 * Reads `/proc/<pid>/stat` and `/proc/<pid>/cmdline` through `cat` (run by `runner`): Deno's
 * permission system refuses /proc to anything short of --allow-all, so the agent reads it via a
 * child process. The stat line is read by the one /proc stat parser, backends/procfs.
 */
export async function processInfo(pid: number, runner: CommandRunner): Promise<ProcessInfo | null> {
  const r = await runner(["cat", `/proc/${pid}/stat`, `/proc/${pid}/cmdline`], {
    timeoutMs: 5000,
    check: false,
  }).catch(() => null);
  if (!r || r.code !== 0) return null;
  const nl = r.stdout.indexOf("\n");
  const stat = parseStat(r.stdout.slice(0, nl));
  if (!stat) return null;
  return {
    state: stat.state,
    argv: r.stdout.slice(nl + 1).split("\0").filter((a) => a !== ""),
  };
}

/** True when the process exists and is not a zombie. */
export async function isAlive(pid: number, runner: CommandRunner): Promise<boolean> {
  const info = await processInfo(pid, runner);
  return info !== null && info.state !== "Z" && info.state !== "X";
}

/** True when `pid` is an openvpn we started with this management socket (guards pid reuse). */
export async function isOurOpenvpn(
  pid: number,
  management: string,
  runner: CommandRunner,
): Promise<boolean> {
  const info = await processInfo(pid, runner);
  if (!info || info.state === "Z" || info.state === "X") return false;
  const i = info.argv.indexOf("--management");
  return i >= 0 && info.argv[i + 1] === management;
}

/** Sends a signal; false when the process is already gone, throws on any other failure. */
export function signalProcess(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(pid, signal);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    if (error instanceof Error && /ESRCH|No such process/i.test(error.message)) return false;
    throw error;
  }
}

/**
 * Waits until a Unix socket at `path` accepts connections, driven by inotify events on its
 * directory (no polling). A connect that races the bind→listen gap right after the create event is
 * retried a few times with a short backoff.
 */
export async function waitForSocket(path: string, signal: AbortSignal): Promise<Deno.UnixConn> {
  const tryConnect = async (): Promise<Deno.UnixConn | null> => {
    try {
      return await Deno.connect({ transport: "unix", path });
    } catch {
      return null;
    }
  };
  const watcher = Deno.watchFs(dirname(path), { recursive: false });
  const onAbort = () => watcher.close();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const first = await tryConnect();
    if (first) return first;
    for await (const event of watcher) {
      if (signal.aborted) break;
      if (!event.paths.includes(path)) continue;
      for (let attempt = 0; attempt < 8; attempt++) {
        const conn = await tryConnect();
        if (conn) return conn;
        if (signal.aborted) break;
        await new Promise((r) => setTimeout(r, 2 << attempt));
      }
    }
    throw signal.reason ?? new Error(`management socket "${path}" never appeared`);
  } finally {
    signal.removeEventListener("abort", onAbort);
    try {
      watcher.close();
    } catch {
      // already closed
    }
  }
}

/** Connection names that have a pid file in `runDir`. */
export async function listPidFiles(runDir: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(runDir)) {
      if (entry.name.endsWith(".pid")) names.push(entry.name.slice(0, -4));
    }
  } catch {
    // no run dir yet
  }
  return names;
}

/** Removes a file, ignoring one that is already gone. */
export async function removeIfPresent(path: string): Promise<void> {
  await Deno.remove(path).catch(() => {});
}

/** Creates the directories the service keeps its files in (mode 0700). */
export async function ensureDirs(...dirs: string[]): Promise<void> {
  for (const dir of dirs) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Moves a log over `maxBytes` to `<log>.0` (as the original daemon did at 32 MiB). */
export function rotateLog(path: string, maxBytes = 32 << 20): void {
  try {
    if (Deno.statSync(path).size > maxBytes) Deno.renameSync(path, `${path}.0`);
  } catch {
    // no log yet
  }
}
