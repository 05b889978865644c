/**
 * `deno task bench quix [processes=1000] [samples=200]`: the Quix agent under load, measured
 * through the real WebSocket link against the test control server.
 *
 * - execute-to-reply latency (median, p99) while starting N `sleep` processes; reference: spawning
 *   the same command directly with Deno.Command in this process.
 * - view_running latency with N supervised processes (target p99 ≤ 50 ms); reference: `ps` for the
 *   same pids.
 * - telemetry CPU cost per request (all four stat types), from the agent's /proc utime+stime;
 *   target ≤ 5 ms. Reference: wall time of `free` + `df` (what a subprocess approach would pay).
 *
 * @module
 */
import { join } from "node:path";
import { spawnAgent, worldTempDir } from "../tests/_helpers/mod.ts";
import { readProcFile } from "../lib/backends/procfs/mod.ts";
import { QuixTestServer } from "../tests/quix/_server.ts";
import { writeConfig } from "../tests/quix/_agent.ts";

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function cpuMs(pid: number): Promise<number> {
  const text = (await readProcFile(`/proc/${pid}/stat`)) ?? "";
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function timed(argv: string[]): Promise<number> {
  const t = performance.now();
  await new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "null", stderr: "null" })
    .output();
  return performance.now() - t;
}

const f1 = (n: number) => n.toFixed(2);

/** Runs the benchmark. */
export async function run(args: string[]): Promise<void> {
  const n = Number(args[0] ?? 1000);
  const samples = Number(args[1] ?? 200);
  await using dir = await worldTempDir("pqx-bench");
  const server = new QuixTestServer();
  await server.start();
  const world = await writeConfig(dir.path, server.url, {
    check_ms: 5000,
    ...(Deno.uid() === 0 ? { run_as: "nobody" } : {}),
  });
  const agent = spawnAgent({ args: ["serve", "--config", world.config] });
  const pids: number[] = [];
  try {
    await agent.waitForLine(/quix /, 30_000);
    const s = await server.nextAuthenticated();

    // execute-to-reply
    const exec: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = await server.request(s, "execute", { cmd: ["sleep", "3600"] }, 100000 + i) as {
        proc_id: number;
      };
      exec.push(performance.now() - t);
      pids.push(r.proc_id);
    }
    const direct: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      const c = new Deno.Command("sleep", { args: ["0"], stdout: "null", stderr: "null" }).spawn();
      direct.push(performance.now() - t);
      await c.status;
    }
    console.log(
      `execute→reply (${n} processes): median ${f1(pct(exec, 50))} ms, p99 ${
        f1(pct(exec, 99))
      } ms | reference Deno.Command spawn median ${f1(pct(direct, 50))} ms (ratio ${
        f1(pct(exec, 50) / pct(direct, 50))
      }×)`,
    );

    // view_running
    const view: number[] = [];
    let count = 0;
    const viewCpu0 = await cpuMs(agent.pid);
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      const list = await server.request(s, "view_running", { verb: 1 }) as unknown[];
      view.push(performance.now() - t);
      count = list.length;
    }
    const viewCpu = ((await cpuMs(agent.pid)) - viewCpu0) / samples;
    const ps: number[] = [];
    for (let i = 0; i < 10; i++) {
      ps.push(await timed(["ps", "-o", "pid,pcpu,rss,args", "-p", pids.join(",")]));
    }
    console.log(
      `view_running (${count} processes, ${samples} samples): median ${f1(pct(view, 50))} ms, p99 ${
        f1(pct(view, 99))
      } ms (target p99 ≤ 50 ms: ${pct(view, 99) <= 50 ? "met" : "NOT met"}), agent CPU ${
        f1(viewCpu)
      } ms/request | reference ps median ${f1(pct(ps, 50))} ms (ratio ${
        f1(pct(view, 50) / pct(ps, 50))
      }×)`,
    );

    // telemetry CPU per request
    const types = ["ttl_cpu_usage", "ttl_mem_usage", "disk_util", "vpn_status"];
    const reqs = Math.max(100, samples * 2);
    const wall: number[] = [];
    const before = await cpuMs(agent.pid);
    for (let i = 0; i < reqs; i++) {
      const t = performance.now();
      await server.request(s, "telemetry", { stat_types: types });
      wall.push(performance.now() - t);
    }
    const perReq = ((await cpuMs(agent.pid)) - before) / reqs;
    const ref: number[] = [];
    for (let i = 0; i < 10; i++) ref.push(await timed(["free", "-m"]) + await timed(["df", "-B1"]));
    console.log(
      `telemetry (all 4 types, ${reqs} requests): agent CPU ${
        f1(perReq)
      } ms/request incl. WebSocket (target ≤ 5 ms: ${
        perReq <= 5 ? "met" : "NOT met"
      }), latency median ${f1(pct(wall, 50))} ms, p99 ${
        f1(pct(wall, 99))
      } ms | reference free+df subprocesses median ${f1(pct(ref, 50))} ms wall (ratio ${
        f1(pct(wall, 50) / pct(ref, 50))
      }×)`,
    );
    console.log(`(agent log dir: ${join(dir.path, "log")}; machine shared, figures are noisy)`);
  } finally {
    for (const pid of pids) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await agent.stop();
    await server.stop();
  }
}
