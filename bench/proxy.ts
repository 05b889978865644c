/**
 * `deno task bench proxy [--duration S] [--rounds N] [--quick] [--balance]`: wrk against nginx serving a
 * 1 KiB file, direct / through nginx (keepalive upstream) / through haproxy / through polyagent's
 * data plane (a separate Deno process, bench/_proxy_server.ts), each run interleaved with the
 * nginx proxy, and the same exchange through polyagent's TCP proxy vs haproxy `mode tcp`
 * (bench/_tcp_bench.ts). Prints req/s and p99 at 64 connections, p50 at 1 connection, p99 and RSS at 512
 * connections, polyagent with 10,000 fronts relative to 10, and the ratios polyagent/nginx. At
 * 64 connections it also measures the floor of any Deno data plane on the public API, a bare byte
 * forwarder (bench/_bare_forwarder.ts) making the same four socket calls per request with
 * `conn.read` and nothing else (the proxy reads with Deno's op directly: direct_read.ts).
 * `--balance` runs the balancing scenarios instead (bench/_balance.ts).
 * Last, the cost of metrics, sticky sessions and the access log (bench/_feature_costs.ts);
 * `--features` runs only those rows, `--tcp` only the TCP ones.
 *
 * @module
 */
import { freePort } from "../tests/_helpers/mod.ts";
import { balanceBench } from "./_balance.ts";
import { featureCosts } from "./_feature_costs.ts";
import { ordersBench } from "./_sozu_orders.ts";
import { tcpBench } from "./_tcp_bench.ts";
import {
  benchDir,
  type Child,
  cpuSeconds,
  denoRun,
  fmt,
  median,
  requireTools,
  rssMb,
  runOptions,
  spawn,
  waitPort,
  wrk,
  type WrkResult,
} from "./_load.ts";
import { inTurn } from "./_util.ts";
import { join } from "node:path";

interface Target {
  name: string;
  port: number;
  pid: number | null;
}

interface PairResult {
  target: WrkResult;
  nginx: WrkResult;
  targetCpu: number;
  nginxCpu: number;
}

/**
 * Runs target and nginx alternately `rounds` times, nginx first in even rounds and second in odd
 * ones; returns the per-pair results.
 */
async function interleaved(
  target: Target,
  nginx: Target,
  connections: number,
  seconds: number,
  rounds: number,
  threads = 2,
): Promise<PairResult[]> {
  const url = (port: number) => `http://127.0.0.1:${port}/1k.txt`;
  await wrk(url(target.port), connections, Math.min(2, seconds), threads);
  await wrk(url(nginx.port), connections, Math.min(2, seconds), threads);
  const measured = async (t: Target): Promise<[WrkResult, number]> => {
    const c0 = t.pid ? cpuSeconds(t.pid) : 0;
    const r = await wrk(url(t.port), connections, seconds, threads);
    return [r, t.pid ? cpuSeconds(t.pid) - c0 : 0];
  };
  const out: PairResult[] = [];
  for (let i = 0; i < rounds; i++) {
    const [[n, nginxCpu], [t, targetCpu]] = await inTurn(
      i,
      () => measured(nginx),
      () => measured(target),
    );
    out.push({ target: t, nginx: n, targetCpu, nginxCpu });
  }
  return out;
}

/** Entry point for `deno task bench proxy`. */
export async function run(args: string[]): Promise<void> {
  if (args.includes("--balance")) return await balanceBench(args);
  const { seconds, rounds } = runOptions(args);
  await requireTools(["wrk", "nginx", "haproxy"]);
  const { dir, temp } = benchDir("proxy");
  const backendPort = freePort();
  const nginxPort = freePort();
  const haproxyPort = freePort();
  const polyPort = freePort();
  const polyManyPort = freePort();
  const floorPort = freePort();
  Deno.writeTextFileSync(
    join(dir, "backend.conf"),
    `worker_processes 1; pid ${dir}/be.pid; error_log ${dir}/be.err;
events { worker_connections 4096; }
http { access_log off; sendfile on; keepalive_requests 1000000; ${temp}
  server { listen 127.0.0.1:${backendPort}; root ${dir}; } }
`,
  );
  Deno.writeTextFileSync(
    join(dir, "proxy.conf"),
    `worker_processes 1; pid ${dir}/px.pid; error_log ${dir}/px.err;
events { worker_connections 4096; }
http { access_log off; ${temp}
  upstream be { server 127.0.0.1:${backendPort}; keepalive 128; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  Deno.writeTextFileSync(
    join(dir, "haproxy.cfg"),
    `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${haproxyPort}
  default_backend be
backend be
  server s1 127.0.0.1:${backendPort}
`,
  );

  const children: Child[] = [];
  try {
    const nginxArgs = (
      conf: string,
    ) => ["-c", join(dir, conf), "-e", join(dir, "nginx.err"), "-g", "daemon off;"];
    children.push(spawn("backend", "nginx", nginxArgs("backend.conf")));
    if (args.includes("--features")) {
      await waitPort(backendPort, "backend nginx");
      return await featureCosts(backendPort, dir, temp, seconds, rounds);
    }
    if (args.includes("--tcp")) {
      await waitPort(backendPort, "backend nginx");
      return await tcpBench({ dir, backendPort, seconds, rounds, interleaved });
    }
    children.push(spawn("nginx", "nginx", nginxArgs("proxy.conf")));
    children.push(spawn("haproxy", "haproxy", ["-db", "-f", join(dir, "haproxy.cfg")]));
    const denoArgs = (port: number, fronts: number) =>
      denoRun("_proxy_server.ts", [
        `127.0.0.1:${port}`,
        `127.0.0.1:${backendPort}`,
        String(fronts),
        "1",
      ]);
    const poly = spawn("polyagent", Deno.execPath(), denoArgs(polyPort, 10), "piped");
    children.push(poly);
    const floor = spawn(
      "deno floor",
      Deno.execPath(),
      denoRun("_bare_forwarder.ts", [String(floorPort), String(backendPort)]),
    );
    children.push(floor);
    const polyMany = spawn(
      "polyagent-10k",
      Deno.execPath(),
      denoArgs(polyManyPort, 10_000),
      "piped",
    );
    children.push(polyMany);
    await waitPort(backendPort, "backend nginx");
    await waitPort(nginxPort, "nginx proxy");
    await waitPort(haproxyPort, "haproxy");
    await waitPort(polyPort, "polyagent");
    await waitPort(polyManyPort, "polyagent (10,000 fronts)");
    await waitPort(floorPort, "bare Deno forwarder");

    const nginx: Target = { name: "nginx proxy", port: nginxPort, pid: children[1]!.pid };
    const targets: Target[] = [
      { name: "direct (no proxy)", port: backendPort, pid: null },
      nginx,
      { name: "haproxy", port: haproxyPort, pid: children[2]!.pid },
      { name: "polyagent", port: polyPort, pid: poly.pid },
    ];
    console.log(
      `proxy benchmark: wrk, 1 KiB file from nginx, ${seconds}s runs, ${rounds} interleaved pairs per target`,
    );
    console.log(`load average at start: ${Deno.loadavg().map((l) => l.toFixed(2)).join(" ")}\n`);

    // 64 connections.
    console.log("## 64 connections (wrk -t2 -c64)\n");
    console.log(
      "| target | req/s | p99 ms | nginx req/s | nginx p99 ms | req/s ×ngx | p99 ×ngx | CPU/req ×ngx | errors |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|");
    const c64 = new Map<string, PairResult[]>();
    const floorTarget: Target = {
      name: "deno floor (bare forwarder, conn.read)",
      port: floorPort,
      pid: floor.pid,
    };
    for (const t of [...targets, floorTarget]) {
      if (t === nginx) continue;
      const pairs = await interleaved(t, nginx, 64, seconds, rounds);
      c64.set(t.name, pairs);
      const cpuRatio = t.pid
        ? median(pairs.map((p) => (p.targetCpu / p.target.rps) / (p.nginxCpu / p.nginx.rps)))
        : NaN;
      console.log(
        `| ${t.name} | ${fmt(median(pairs.map((p) => p.target.rps)))} | ${
          fmt(median(pairs.map((p) => p.target.p99)), 2)
        } | ${fmt(median(pairs.map((p) => p.nginx.rps)))} | ${
          fmt(median(pairs.map((p) => p.nginx.p99)), 2)
        } | ${fmt(median(pairs.map((p) => p.target.rps / p.nginx.rps)), 2)} | ${
          fmt(median(pairs.map((p) => p.target.p99 / p.nginx.p99)), 2)
        } | ${fmt(cpuRatio, 2)} | ${pairs.reduce((a, p) => a + p.target.errors, 0)} |`,
      );
    }

    // 1 connection.
    console.log("\n## 1 connection (wrk -t1 -c1): p50\n");
    console.log("| target | p50 µs | nginx p50 µs | p50 ×ngx | p99 ms | req/s |");
    console.log("|---|---|---|---|---|---|");
    for (const t of targets) {
      if (t === nginx) continue;
      const pairs = await interleaved(t, nginx, 1, Math.max(2, Math.round(seconds / 2)), rounds, 1);
      console.log(
        `| ${t.name} | ${fmt(median(pairs.map((p) => p.target.p50)) * 1000)} | ${
          fmt(median(pairs.map((p) => p.nginx.p50)) * 1000)
        } | ${fmt(median(pairs.map((p) => p.target.p50 / p.nginx.p50)), 2)} | ${
          fmt(median(pairs.map((p) => p.target.p99)), 2)
        } | ${fmt(median(pairs.map((p) => p.target.rps)))} |`,
      );
    }

    // 512 connections.
    console.log("\n## 512 connections (wrk -t2 -c512): p99 and proxy RSS\n");
    console.log(
      "| target | req/s | p99 ms | nginx p99 ms | p99 ×ngx | proxy RSS MB | nginx RSS MB | errors |",
    );
    console.log("|---|---|---|---|---|---|---|---|");
    for (const t of targets) {
      if (t === nginx) continue;
      const pairs = await interleaved(t, nginx, 512, seconds, rounds);
      const rss = t.pid ? rssMb(t.pid) : NaN;
      console.log(
        `| ${t.name} | ${fmt(median(pairs.map((p) => p.target.rps)))} | ${
          fmt(median(pairs.map((p) => p.target.p99)), 2)
        } | ${fmt(median(pairs.map((p) => p.nginx.p99)), 2)} | ${
          fmt(median(pairs.map((p) => p.target.p99 / p.nginx.p99)), 2)
        } | ${fmt(rss, 1)} | ${fmt(rssMb(nginx.pid!), 1)} | ${
          pairs.reduce((a, p) => a + p.target.errors, 0)
        } |`,
      );
    }

    // 10,000 fronts vs 10.
    console.log("\n## polyagent with 10,000 fronts vs 10 (wrk -t2 -c64)\n");
    const many: Target = { name: "polyagent 10k fronts", port: polyManyPort, pid: polyMany.pid };
    const few: Target = { name: "polyagent 10 fronts", port: polyPort, pid: poly.pid };
    const manyPairs = await interleaved(many, few, 64, seconds, rounds);
    console.log("| fronts | req/s | p99 ms |");
    console.log("|---|---|---|");
    console.log(
      `| 10 | ${fmt(median(manyPairs.map((p) => p.nginx.rps)))} | ${
        fmt(median(manyPairs.map((p) => p.nginx.p99)), 2)
      } |`,
    );
    console.log(
      `| 10,000 | ${fmt(median(manyPairs.map((p) => p.target.rps)))} | ${
        fmt(median(manyPairs.map((p) => p.target.p99)), 2)
      } |`,
    );
    console.log(
      `\nratio 10,000 / 10 fronts: ${
        fmt(median(manyPairs.map((p) => p.target.rps / p.nginx.rps)), 2)
      }× (target ≥ 0.9×)`,
    );
    const polyPairs = c64.get("polyagent")!;
    const floorPairs = c64.get(floorTarget.name)!;
    console.log(
      `\nsummary: polyagent/nginx at -c64: ${
        fmt(median(polyPairs.map((p) => p.target.rps / p.nginx.rps)), 2)
      }× req/s (target ≥ 0.9), ${
        fmt(median(polyPairs.map((p) => p.target.p99 / p.nginx.p99)), 2)
      }× p99 (target ≤ 1.3); the bare Deno forwarder in the same run: ${
        fmt(median(floorPairs.map((p) => p.target.rps / p.nginx.rps)), 2)
      }× req/s, ${fmt(median(floorPairs.map((p) => p.target.p99 / p.nginx.p99)), 2)}× p99.`,
    );
    await tcpBench({ dir, backendPort, seconds, rounds, interleaved });
    await featureCosts(backendPort, dir, temp, seconds, rounds);
  } finally {
    for (const c of children.reverse()) await c.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  console.log("\n## control plane: ADD_BACKEND orders over one command-socket connection\n");
  const orders = await ordersBench();
  console.log(`${orders.ordersPerSecond.toFixed(0)} orders/s (target ≥ 5,000); ${orders.detail}`);
}
