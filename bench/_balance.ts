/**
 * `deno task bench proxy --balance [--duration S]`: the balancing scenarios.
 * 1. Four backends, one 10× slower (2 ms vs 20 ms per answer): wrk -c64 through polyagent
 *    round robin, least_loaded (connections and connection_time), power_of_two, and nginx
 *    `least_conn`; req/s and p99 for each.
 * 2. Failover: 64 connections of load through polyagent (round robin, a primary and a backup),
 *    the primary killed (SIGKILL) one second in; the failed requests and the time from the kill
 *    to the last failed one.
 *
 * @module
 */
import { join } from "node:path";
import { freePort } from "../tests/_helpers/mod.ts";
import {
  benchDir,
  type Child,
  denoRun,
  fmt,
  requireTools,
  runOptions,
  spawn,
  waitPort,
  wrk,
} from "./_load.ts";

const FAST_MS = 2;
const SLOW_MS = 20;

/** Starts a delay backend; returns its address. */
async function backend(
  children: Child[],
  delayMs: number,
): Promise<{ address: string; child: Child }> {
  const port = freePort();
  const child = spawn(
    `backend ${delayMs} ms`,
    Deno.execPath(),
    denoRun("_delay_backend.ts", [String(port), String(delayMs)]),
  );
  children.push(child);
  await waitPort(port, `backend ${delayMs} ms`);
  return { address: `127.0.0.1:${port}`, child };
}

/** Starts a polyagent data plane; returns its port. */
async function polyagent(children: Child[], policy: string, metric: string, backends: string[]) {
  const port = freePort();
  children.push(
    spawn(
      `polyagent ${policy}`,
      Deno.execPath(),
      denoRun("_balance_server.ts", [`127.0.0.1:${port}`, policy, metric, backends.join(",")]),
      "piped",
    ),
  );
  await waitPort(port, `polyagent ${policy}`);
  return port;
}

async function slowBackendScenario(children: Child[], seconds: number): Promise<void> {
  const { dir, temp } = benchDir("balance");
  const delays = [FAST_MS, FAST_MS, FAST_MS, SLOW_MS];
  const addresses: string[] = [];
  for (const d of delays) addresses.push((await backend(children, d)).address);
  const nginxPort = freePort();
  Deno.writeTextFileSync(
    join(dir, "lc.conf"),
    `worker_processes 1; pid ${dir}/lc.pid; error_log ${dir}/lc.err;
events { worker_connections 4096; }
http { access_log off; ${temp}
  upstream be { least_conn; ${addresses.map((a) => `server ${a};`).join(" ")} keepalive 128; }
  server { listen 127.0.0.1:${nginxPort};
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
  );
  children.push(
    spawn("nginx least_conn", "nginx", [
      "-c",
      join(dir, "lc.conf"),
      "-e",
      join(dir, "lc.err"),
      "-g",
      "daemon off;",
    ]),
  );
  await waitPort(nginxPort, "nginx least_conn");
  const targets: [string, number][] = [
    ["polyagent round_robin", await polyagent(children, "round_robin", "connections", addresses)],
    [
      "polyagent least_loaded (connections)",
      await polyagent(children, "least_loaded", "connections", addresses),
    ],
    [
      "polyagent least_loaded (connection_time)",
      await polyagent(children, "least_loaded", "connection_time", addresses),
    ],
    ["polyagent power_of_two", await polyagent(children, "power_of_two", "connections", addresses)],
    ["nginx least_conn", nginxPort],
  ];
  console.log(
    `## one backend of four 10x slower (${FAST_MS} ms vs ${SLOW_MS} ms), wrk -t2 -c64 ${seconds}s\n`,
  );
  console.log("| target | req/s | p50 ms | p99 ms | errors |");
  console.log("|---|---|---|---|---|");
  for (const [name, port] of targets) {
    const url = `http://127.0.0.1:${port}/`;
    await wrk(url, 64, 1);
    const r = await wrk(url, 64, seconds);
    console.log(`| ${name} | ${fmt(r.rps)} | ${fmt(r.p50, 2)} | ${fmt(r.p99, 2)} | ${r.errors} |`);
  }
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** 64 fetch loops until `stop`, recording the time of every failed request. */
async function load(port: number, stop: () => boolean) {
  const client = Deno.createHttpClient({});
  const failures: number[] = [];
  let ok = 0;
  const loop = async () => {
    while (!stop()) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/`, { client });
        await r.arrayBuffer();
        if (r.status === 200) ok++;
        else failures.push(performance.now());
      } catch {
        failures.push(performance.now());
      }
    }
  };
  await Promise.all(Array.from({ length: 64 }, loop));
  client.close();
  return { ok, failures };
}

async function failoverScenario(children: Child[], seconds: number): Promise<void> {
  const primary = await backend(children, 0);
  const backup = await backend(children, 0);
  const port = await polyagent(children, "round_robin", "connections", [
    primary.address,
    `+${backup.address}`,
  ]);
  let stop = false;
  const running = load(port, () => stop);
  await new Promise((r) => setTimeout(r, 1000));
  const killedAt = performance.now();
  primary.child.child.kill("SIGKILL");
  await new Promise((r) => setTimeout(r, Math.max(2, seconds) * 1000));
  stop = true;
  const { ok, failures } = await running;
  const last = failures.filter((t) => t >= killedAt).at(-1);
  console.log("\n## failover: primary killed under 64 connections, backup present\n");
  console.log("| requests ok | failed | failed after the kill | kill → last failure ms |");
  console.log("|---|---|---|---|");
  console.log(
    `| ${ok} | ${failures.length} | ${failures.filter((t) => t >= killedAt).length} | ${
      last === undefined ? "none" : fmt(last - killedAt, 1)
    } |`,
  );
}

/** Entry point for `deno task bench proxy --balance`. */
export async function balanceBench(args: string[]): Promise<void> {
  const { seconds } = runOptions(args);
  await requireTools(["wrk", "nginx"]);
  const children: Child[] = [];
  try {
    await slowBackendScenario(children, seconds);
    await failoverScenario(children, seconds);
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
