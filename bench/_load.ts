/**
 * Load-generation helpers shared by `bench proxy` and `bench https`: wrk runs (with its figures
 * parsed), child processes drained and stopped by PID, waiting for a port, and the CPU time and
 * RSS of a process tree read from /proc (through `cat`/`ps`: Deno refuses /proc without -A).
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { RUNTIME_FLAGS } from "../tests/_helpers/mod.ts";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/**
 * `deno run` arguments for `bench/<script>` with the runtime flags the agent runs with, under the
 * agent's permissions unless a script needs others (`-A`: the floors, which read the benchmark's
 * certificate files).
 */
export function denoRun(
  script: string,
  args: readonly string[],
  permissions = "-P=agent",
): string[] {
  return ["run", "-q", permissions, ...RUNTIME_FLAGS, join(ROOT, "bench", script), ...args];
}

/** What one wrk run measured. */
export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** A child process started by {@linkcode spawn}. */
export interface Child {
  name: string;
  pid: number;
  child: Deno.ChildProcess;
  stop(): Promise<void>;
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  if (unit === "us") return n / 1000;
  if (unit === "ms") return n;
  if (unit === "s") return n * 1000;
  if (unit === "m") return n * 60_000;
  return NaN;
}

/** Runs wrk and parses req/s, p50/p99 (ms) and errors (socket errors + non-2xx/3xx). */
export async function wrk(
  url: string,
  connections: number,
  seconds: number,
  threads = 2,
  headers: readonly string[] = [],
): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: [
      ...headers.flatMap((h) => ["-H", h]),
      `-t${Math.min(threads, connections)}`,
      `-c${connections}`,
      `-d${seconds}s`,
      "--timeout",
      "10s",
      "--latency",
      url,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const pct = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s|m)`).exec(text);
    return m ? toMs(m[1]!, m[2]!) : NaN;
  };
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = non2xx + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return { rps, p50: pct("50"), p99: pct("99"), errors };
}

/** Starts a child with its output drained; `stop()` sends SIGTERM, then SIGKILL after 3 s. */
export function spawn(
  name: string,
  cmd: string,
  args: string[],
  stdin: "piped" | "null" = "null",
): Child {
  const child = new Deno.Command(cmd, {
    args,
    stdin,
    stdout: "piped",
    stderr: "piped",
    cwd: ROOT,
  }).spawn();
  // Drain output so the child never blocks on a full pipe.
  child.stdout.pipeTo(new WritableStream()).catch(() => {});
  child.stderr.pipeTo(new WritableStream()).catch(() => {});
  return {
    name,
    pid: child.pid,
    child,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 3000);
      await child.status;
      clearTimeout(timer);
    },
  };
}

/** Waits until something accepts connections on 127.0.0.1:`port` (20 s). */
export async function waitPort(port: number, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** Runs a command and returns its stdout ("" on failure). /proc needs --allow-all in Deno. */
export function capture(cmd: string, args: string[]): string {
  try {
    const out = new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).outputSync();
    return new TextDecoder().decode(out.stdout);
  } catch {
    return "";
  }
}

/** A process and its children. */
export function processTree(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const line of capture("ps", ["-o", "pid=", "--ppid", String(out[i])]).split("\n")) {
      const pid = Number(line.trim());
      if (line.trim() !== "" && Number.isInteger(pid)) out.push(pid);
    }
  }
  return out;
}

/** Summed VmRSS (MB) of a process and its children. */
export function rssMb(pid: number): number {
  const files = processTree(pid).map((p) => `/proc/${p}/status`);
  let kb = 0;
  for (const m of capture("cat", files).matchAll(/VmRSS:\s+(\d+)/g)) kb += Number(m[1]);
  return kb / 1024;
}

/** utime+stime (seconds) of a process and its children. */
export function cpuSeconds(pid: number): number {
  const files = processTree(pid).map((p) => `/proc/${p}/stat`);
  let ticks = 0;
  for (const stat of capture("cat", files).split("\n")) {
    if (!stat.includes(")")) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / 100;
}

/** Median of the finite values (NaN when none). */
export function median(values: number[]): number {
  const s = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** A number with `digits` decimals, "n/a" when not finite. */
export function fmt(n: number, digits = 0): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

/** `--duration S`, `--rounds N` and `--quick` of a benchmark's arguments. */
export function runOptions(args: string[]): { seconds: number; rounds: number } {
  const arg = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const quick = args.includes("--quick");
  return { seconds: arg("duration", quick ? 3 : 6), rounds: arg("rounds", quick ? 1 : 3) };
}

/** Throws naming the first tool missing from PATH. */
export async function requireTools(tools: readonly string[]): Promise<void> {
  for (const tool of tools) {
    const ok = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
      .output().then((o) => o.success, () => false);
    if (!ok) throw new Error(`"${tool}" is needed for this benchmark`);
  }
}

/**
 * A fresh run directory var/bench/<name>-<time> holding the 1 KiB file the nginx backend serves,
 * readable by nginx's workers (nobody); `temp` is nginx's temp-path directives pointing into it.
 */
export function benchDir(name: string): { dir: string; temp: string } {
  const dir = join(ROOT, "var", "bench", `${name}-${Date.now()}`);
  Deno.mkdirSync(join(dir, "tmp"), { recursive: true });
  for (let d = dir; d.startsWith(ROOT) && d.length > 1; d = join(d, "..")) {
    Deno.chmodSync(d, 0o755);
  }
  Deno.writeTextFileSync(join(dir, "1k.txt"), "x".repeat(1023) + "\n");
  Deno.chmodSync(join(dir, "1k.txt"), 0o644);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `${t}_temp_path ${dir}/tmp;`).join(" ");
  return { dir, temp };
}
