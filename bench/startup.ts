/**
 * `deno task bench startup`: time from process start to every listener ready (median of 20 runs)
 * and the idle RSS of an agent running the admin service. Targets: ready ≤ 150 ms, RSS ≤ 60 MB.
 */
import { join } from "node:path";
import { readProcFile } from "../lib/backends/procfs/mod.ts";
import { agentSection, freePort, spawnAgent, tempDir } from "../tests/_helpers/mod.ts";
import { median, percentile, printTable } from "./_util.ts";

async function writeConfig(dir: string, port: number): Promise<string> {
  const file = join(dir, "bench.toml");
  await Deno.writeTextFile(
    file,
    agentSection(dir, { log_level: "warn" }) +
      `[admin]\nlisten = "127.0.0.1:${port}"\n`,
  );
  return file;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readProcFile(`/proc/${pid}/status`);
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(status ?? "")?.[1] ?? NaN);
  return kb / 1024;
}

/** Runs the startup benchmark. */
export async function run(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? 20);
  await using dir = await tempDir("bench-startup");
  const times: number[] = [];
  let rss = NaN;
  for (let i = 0; i < runs; i++) {
    const port = freePort();
    const config = await writeConfig(dir.path, port);
    const t0 = performance.now();
    await using agent = spawnAgent({ args: ["serve", "--config", config] });
    await agent.waitForLine(/^admin /);
    times.push(performance.now() - t0);
    if (i === runs - 1) {
      await new Promise((r) => setTimeout(r, 2000));
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 500));
      rss = await rssMiB(agent.pid);
    }
    await agent.stop("SIGTERM");
  }
  console.log(
    `startup of \`deno run -P=agent main.ts serve\` with the admin service, ${runs} runs\n`,
  );
  printTable(["figure", "value", "target"], [
    ["process start → listeners ready, median", `${median(times).toFixed(1)} ms`, "≤ 150 ms"],
    ["process start → listeners ready, p90", `${percentile(times, 90).toFixed(1)} ms`, ""],
    ["idle RSS (admin only, after one request)", `${rss.toFixed(1)} MiB`, "≤ 60 MB"],
  ]);
}
