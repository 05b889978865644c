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

interface Resident {
  /** Total resident set, KiB. */
  rss: number;
  /** Anonymous (heap, stacks) and file-backed (the deno binary's own pages) parts, KiB. */
  anon: number;
  file: number;
}

async function resident(pid: number): Promise<Resident> {
  const rollup = await readProcFile(`/proc/${pid}/smaps_rollup`) ?? "";
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB$`, "m").exec(rollup)?.[1] ?? NaN);
  const rss = field("Rss");
  const anon = field("Anonymous");
  return { rss, anon, file: rss - anon };
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

/** Runs the startup benchmark. */
export async function run(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? 20);
  await using dir = await tempDir("bench-startup");
  const times: number[] = [];
  let mem: Resident = { rss: NaN, anon: NaN, file: NaN };
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
      mem = await resident(agent.pid);
    }
    await agent.stop("SIGTERM");
  }
  console.log(
    `startup of \`deno run -P=agent main.ts serve\` with the admin service, ${runs} runs\n`,
  );
  printTable(["figure", "value", "target"], [
    ["process start → listeners ready, median", `${median(times).toFixed(1)} ms`, "≤ 150 ms"],
    ["process start → listeners ready, p90", `${percentile(times, 90).toFixed(1)} ms`, ""],
    [
      "idle RSS (admin only, after one request)",
      `${mib(mem.rss)} (${(mem.rss * 1024 / 1e6).toFixed(1)} MB)`,
      "≤ 60 MB",
    ],
    ["  of which anonymous (V8 heap, malloc)", mib(mem.anon), ""],
    ["  of which file-backed (deno binary pages)", mib(mem.file), ""],
  ]);
}
