/**
 * The TCP row of `deno task bench proxy`: the same 1 KiB HTTP exchange (wrk, keep-alive) through
 * polyagent's TCP proxy (bench/_tcp_proxy_server.ts) and through haproxy in `mode tcp`, run
 * interleaved; prints req/s, p99 and the ratio polyagent/haproxy (issue 12's target ≥ 0.9×).
 *
 * @module
 */
import { join } from "node:path";
import { freePort } from "../tests/_helpers/mod.ts";
import { type Child, denoRun, fmt, median, spawn, waitPort, type WrkResult } from "./_load.ts";

/** A target as bench/proxy.ts measures it. */
export interface TcpBenchTarget {
  name: string;
  port: number;
  pid: number | null;
}

/** What bench/proxy.ts lends: its interleaved runner and the shared backend. */
export interface TcpBenchOptions {
  dir: string;
  backendPort: number;
  seconds: number;
  rounds: number;
  interleaved(
    target: TcpBenchTarget,
    reference: TcpBenchTarget,
    connections: number,
    seconds: number,
    rounds: number,
  ): Promise<{ target: WrkResult; nginx: WrkResult; targetCpu: number; nginxCpu: number }[]>;
}

/** Runs and prints the TCP rows. */
export async function tcpBench(options: TcpBenchOptions): Promise<void> {
  const haproxyPort = freePort();
  const polyPort = freePort();
  const config = join(options.dir, "haproxy-tcp.cfg");
  Deno.writeTextFileSync(
    config,
    `global
  nbthread 1
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend fe
  bind 127.0.0.1:${haproxyPort}
  default_backend be
backend be
  server s1 127.0.0.1:${options.backendPort}
`,
  );
  const children: Child[] = [];
  try {
    const haproxy = spawn("haproxy tcp", "haproxy", ["-db", "-f", config]);
    children.push(haproxy);
    const poly = spawn(
      "polyagent tcp",
      Deno.execPath(),
      denoRun("_tcp_proxy_server.ts", [
        `127.0.0.1:${polyPort}`,
        `127.0.0.1:${options.backendPort}`,
        "1",
      ]),
      "piped",
    );
    children.push(poly);
    const floorPort = freePort();
    const floor = spawn(
      "bare pipe",
      Deno.execPath(),
      denoRun("_bare_pipe.ts", [String(floorPort), String(options.backendPort)], "-A"),
    );
    children.push(floor);
    await waitPort(floorPort, "bare pipe (floor)");
    await waitPort(haproxyPort, "haproxy (mode tcp)");
    await waitPort(polyPort, "polyagent TCP proxy");
    const reference = { name: "haproxy mode tcp", port: haproxyPort, pid: haproxy.pid };
    const target = { name: "polyagent TCP", port: polyPort, pid: poly.pid };
    console.log("\n## TCP proxy: 1 KiB HTTP exchange, L4 (wrk -t2 -c64)\n");
    console.log(
      "| target | req/s | p99 ms | haproxy tcp req/s | haproxy tcp p99 ms | req/s ×hap | CPU/req ×hap |",
    );
    console.log("|---|---|---|---|---|---|---|");
    const floorTarget = {
      name: "floor: bare Deno pipe (conn.read)",
      port: floorPort,
      pid: floor.pid,
    };
    for (const t of [target, floorTarget]) {
      const pairs = await options.interleaved(t, reference, 64, options.seconds, options.rounds);
      console.log(
        `| ${t.name} | ${fmt(median(pairs.map((p) => p.target.rps)))} | ${
          fmt(median(pairs.map((p) => p.target.p99)), 2)
        } | ${fmt(median(pairs.map((p) => p.nginx.rps)))} | ${
          fmt(median(pairs.map((p) => p.nginx.p99)), 2)
        } | ${fmt(median(pairs.map((p) => p.target.rps / p.nginx.rps)), 2)}${
          t === target ? " (target ≥ 0.9)" : ""
        } | ${
          fmt(
            median(pairs.map((p) => (p.targetCpu / p.target.rps) / (p.nginxCpu / p.nginx.rps))),
            2,
          )
        } |`,
      );
    }
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
