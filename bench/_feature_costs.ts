/**
 * The "features on vs off" rows of `deno task bench proxy` (also alone with `--features`): the
 * polyagent data plane with traffic metrics, sticky sessions (wrk sends the sticky cookie, so
 * every request parses it, strips it and is pinned) and the access log, each run interleaved
 * with the same data plane with all three off, at 64 connections. Targets: metrics ≥ 0.97×,
 * access log ≥ 0.95×, sticky ≥ 0.97× of the plain data plane's req/s.
 *
 * @module
 */
import { join } from "node:path";
import { freePort, RUNTIME_FLAGS } from "../tests/_helpers/mod.ts";
import { type Child, fmt, median, ROOT, spawn, waitPort, wrk } from "./_load.ts";

interface Variant {
  name: string;
  features: string;
  target: number;
  headers: string[];
}

/** Runs the rows against the nginx backend on `backendPort`; `dir` holds the access log. */
export async function featureCosts(
  backendPort: number,
  dir: string,
  seconds: number,
  rounds: number,
): Promise<void> {
  const variants: Variant[] = [
    { name: "metrics on", features: "metrics", target: 0.97, headers: [] },
    {
      name: "sticky on (cookie sent)",
      features: "plain,sticky",
      target: 0.97,
      headers: ["Cookie: SOZUBALANCEID=b0; other=1"],
    },
    {
      name: "access log on",
      features: `plain,accesslog=${join(dir, "access.log")}`,
      target: 0.95,
      headers: [],
    },
  ];
  const children: Child[] = [];
  const start = (name: string, features: string) => {
    const port = freePort();
    const args = [
      "run",
      "-q",
      "-P=agent",
      ...RUNTIME_FLAGS,
      join(ROOT, "bench", "_proxy_server.ts"),
      `127.0.0.1:${port}`,
      `127.0.0.1:${backendPort}`,
      "10",
      "1",
      features,
    ];
    children.push(spawn(name, Deno.execPath(), args, "piped"));
    return port;
  };
  try {
    const plain = start("polyagent plain", "plain");
    const ports = variants.map((v) => start(`polyagent ${v.name}`, v.features));
    await waitPort(plain, "polyagent plain");
    for (const [i, v] of variants.entries()) await waitPort(ports[i]!, `polyagent ${v.name}`);
    const url = (port: number) => `http://127.0.0.1:${port}/1k.txt`;
    console.log("\n## features on vs off (wrk -t2 -c64; off = metrics, sticky, access log off)\n");
    console.log("| variant | req/s | off req/s | ×off | target | p99 ms | off p99 ms | errors |");
    console.log("|---|---|---|---|---|---|---|---|");
    for (const [i, v] of variants.entries()) {
      const ratios: number[] = [];
      const on: number[][] = [[], []];
      const off: number[][] = [[], []];
      let errors = 0;
      await wrk(url(ports[i]!), 64, Math.min(2, seconds), 2, v.headers);
      for (let r = 0; r < rounds; r++) {
        const a = await wrk(url(plain), 64, seconds, 2, v.headers);
        const b = await wrk(url(ports[i]!), 64, seconds, 2, v.headers);
        ratios.push(b.rps / a.rps);
        on[0]!.push(b.rps), on[1]!.push(b.p99), off[0]!.push(a.rps), off[1]!.push(a.p99);
        errors += a.errors + b.errors;
      }
      console.log(
        `| ${v.name} | ${fmt(median(on[0]!))} | ${fmt(median(off[0]!))} | ${
          fmt(median(ratios), 3)
        } | ≥ ${v.target} | ${fmt(median(on[1]!), 2)} | ${fmt(median(off[1]!), 2)} | ${errors} |`,
      );
    }
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
