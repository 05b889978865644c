/**
 * `deno task bench upgrade [--seconds 20] [--at 10]`: wrk -t2 -c64 through a proxy for `seconds`
 * seconds, cut into one-second runs so each second has its own p99, with an upgrade started at
 * second `at`:
 *
 * - polyagent (`polyagent upgrade`, a new agent process) with net.ipv4.tcp_migrate_req on, and
 *   again with it off (the agent told not to turn it on);
 * - nginx `-s reload` (a new worker generation) and nginx's binary upgrade (USR2, WINCH, QUIT: a
 *   new master and workers), on the same backend in the same run.
 *
 * For each: failed requests (wrk socket errors and non-2xx), the steady p99 (median of the other
 * seconds), the worst p99 of the three seconds from the upgrade on and its ratio to steady, and the
 * time from the command to its answer and to the old process's exit. It runs in a network
 * namespace of its own (so tcp_migrate_req, a per-namespace setting, is changed there only) and
 * needs root, wrk, nginx and ip.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, RUNTIME_FLAGS } from "../tests/_helpers/mod.ts";
import { median, printTable } from "./_util.ts";
import {
  type Gen,
  nginxBinaryUpgrade,
  nginxReload,
  startNginx,
  startPolyagent,
  type Timings,
} from "./_upgrade_targets.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const NS_FLAG = "--inside-netns";
/** Seconds counted as "around the upgrade" from its command on (polyagent's takes about two). */
const AROUND = 3;

/** One second of wrk. */
interface Slice {
  rps: number;
  p99: number;
  errors: number;
}

function ms(value: string, unit: string): number {
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };
  return Number(value) * (scale[unit] ?? NaN);
}

/** One wrk run of `seconds`, parsed. */
async function wrkSlice(port: number, host: string, seconds: number): Promise<Slice> {
  const args = ["-t2", "-c64", `-d${seconds}s`, "--timeout", "5s", "--latency"];
  const { stdout } = await new Deno.Command("wrk", {
    args: [...args, "-H", `Host: ${host}`, `http://127.0.0.1:${port}/1k.txt`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s|m)$/m.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const bad = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? "0");
  let errors = bad;
  for (const n of socket?.slice(1) ?? []) errors += Number(n);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? "NaN"),
    p99: p99 ? ms(p99[1]!, p99[2]!) : NaN,
    errors,
  };
}

/** What one scenario measured. */
interface Outcome {
  name: string;
  slices: Slice[];
  timings: Timings;
}

/** Runs the one-second slices, starting `upgrade` at slice `at`. */
async function scenario(
  name: string,
  target: Gen,
  options: { seconds: number; at: number },
): Promise<Outcome> {
  const slices: Slice[] = [];
  let upgrading: Promise<Timings> | null = null;
  try {
    for (let i = 0; i < options.seconds; i++) {
      if (i === options.at) {
        upgrading = target.upgrade().catch((error) => ({
          answerMs: NaN,
          oldExitMs: NaN,
          note: `failed: ${error.message}`,
        }));
      }
      slices.push(await wrkSlice(target.port, target.host, 1));
    }
    const timings = upgrading ? await upgrading : { answerMs: NaN, oldExitMs: NaN, note: "" };
    return { name, slices, timings };
  } finally {
    await target.stop();
  }
}

function fmt(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

function report(outcomes: Outcome[], at: number): void {
  const rows = outcomes.map(({ name, slices, timings }) => {
    const around = slices.slice(at, at + AROUND);
    const steady = median(
      slices.filter((_, i) => i < at || i >= at + AROUND).map((s) => s.p99).filter(Number.isFinite),
    );
    const worst = Math.max(...around.map((s) => s.p99));
    const failed = slices.reduce((n, s) => n + s.errors, 0);
    return [
      name,
      String(failed),
      fmt(median(slices.map((s) => s.rps)), 0),
      fmt(steady, 2),
      fmt(worst, 2),
      fmt(worst / steady, 1) + "×",
      fmt(timings.answerMs, 0),
      fmt(timings.oldExitMs, 0),
      timings.note,
    ];
  });
  printTable([
    "scenario",
    "failed",
    "req/s",
    "p99 steady ms",
    "p99 upgrade s ms",
    "ratio",
    "cmd→answer ms",
    "cmd→old exit ms",
    "note",
  ], rows);
  console.log("\nper-second p99 (ms):");
  for (const { name, slices } of outcomes) {
    console.log(`  ${name.padEnd(34)} ${slices.map((s) => fmt(s.p99, 1)).join(" ")}`);
  }
}

async function sysctl(value: 0 | 1): Promise<void> {
  await new Deno.Command("sysctl", {
    args: ["-q", "-w", `net.ipv4.tcp_migrate_req=${value}`],
  }).output();
}

/** Inside the namespace: the backend, then each scenario in turn. */
async function inside(seconds: number, at: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "polyagent-bench-upgrade-" });
  const backend = await startNginx(dir, "backend", { port: freePort() });
  const outcomes: Outcome[] = [];
  try {
    const options = { seconds, at };
    for (const migrate of [1, 0] as const) {
      await sysctl(migrate);
      const agent = await startPolyagent(join(dir, `agent-${migrate}`), backend.port, migrate);
      outcomes.push(
        await scenario(`polyagent, tcp_migrate_req=${migrate}`, agent, options),
      );
    }
    await sysctl(1);
    const reload = await startNginx(dir, "reload", { upstream: backend.port, port: freePort() });
    outcomes.push(await scenario("nginx -s reload", nginxReload(reload), options));
    const binary = await startNginx(dir, "binary", { upstream: backend.port, port: freePort() });
    outcomes.push(
      await scenario("nginx binary upgrade (USR2)", nginxBinaryUpgrade(binary), options),
    );
  } finally {
    await backend.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log(
    `# upgrade under load: wrk -t2 -c64, ${seconds} one-second runs, upgrade at second ${at}\n`,
  );
  report(outcomes, at);
}

async function must(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** Entry point of `deno task bench upgrade`. */
export async function run(args: string[]): Promise<void> {
  const value = (flag: string, fallback: number) => {
    const i = args.indexOf(flag);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const seconds = value("--seconds", 20);
  const at = value("--at", Math.floor(seconds / 2));
  if (args.includes(NS_FLAG)) return await inside(seconds, at);
  if (Deno.uid() !== 0) {
    console.log("bench upgrade: needs root (a network namespace, sysctl)");
    return;
  }
  const ns = `pa-bench-upgrade-${Deno.pid}`;
  await must("ip", ["netns", "add", ns]);
  try {
    await must("ip", ["-n", ns, "link", "set", "lo", "up"]);
    const child = new Deno.Command("ip", {
      args: [
        "netns",
        "exec",
        ns,
        Deno.execPath(),
        "run",
        "-q",
        "-P=agent",
        ...RUNTIME_FLAGS,
        join(ROOT, "scripts", "bench.ts"),
        "upgrade",
        "--seconds",
        String(seconds),
        "--at",
        String(at),
        NS_FLAG,
      ],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    await child.status;
  } finally {
    await must("ip", ["netns", "del", ns]).catch(() => {});
  }
}
