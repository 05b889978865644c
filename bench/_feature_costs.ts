/**
 * The "features on vs off" rows of `deno task bench proxy` (also alone with `--features`): the
 * polyagent data plane with traffic metrics, sticky sessions (wrk sends the sticky cookie, so
 * every request parses it, strips it and is pinned) and the access log (a file next to the
 * benchmark's, on disk), each run interleaved with the same data plane with all three off, at 64
 * connections, the order of the pair swapped every round. Each row gives req/s and the proxy's
 * CPU per request (user + system of its process) on and off. Targets: metrics ≥ 0.97×, access
 * log ≥ 0.95×, sticky ≥ 0.97× of the plain data plane's req/s. For scale, the same access-log
 * pair through nginx (a JSON `log_format` with the same fields, buffered 64 KiB) in the same run.
 *
 * @module
 */
import { join } from "node:path";
import { freePort } from "../tests/_helpers/mod.ts";
import { type Child, cpuSeconds, denoRun, fmt, median, spawn, waitPort, wrk } from "./_load.ts";
import { inTurn } from "./_util.ts";

interface Variant {
  name: string;
  /** The "on" target; `off` is the plain one of its kind. */
  on: Target;
  off: Target;
  target: number | null;
  headers: string[];
}

interface Target {
  port: number;
  pid: number;
}

/** Runs the rows against the nginx backend on `backendPort`; `dir` holds the access logs. */
export async function featureCosts(
  backendPort: number,
  dir: string,
  temp: string,
  seconds: number,
  rounds: number,
): Promise<void> {
  const children: Child[] = [];
  const start = (name: string, features: string): Target => {
    const port = freePort();
    const args = denoRun("_proxy_server.ts", [
      `127.0.0.1:${port}`,
      `127.0.0.1:${backendPort}`,
      "10",
      "1",
      features,
    ]);
    const child = spawn(name, Deno.execPath(), args, "piped");
    children.push(child);
    return { port, pid: child.pid };
  };
  const nginx = (name: string, log: string): Target => {
    const port = freePort();
    const conf = join(dir, `${name}.conf`);
    Deno.writeTextFileSync(
      conf,
      `worker_processes 1; pid ${dir}/${name}.pid; error_log ${dir}/${name}.err;
events { worker_connections 4096; }
http { ${temp}
  log_format json escape=json '{"time":"$time_iso8601","client":"$remote_addr:$remote_port",'
    '"listener":"$server_addr:$server_port","method":"$request_method","host":"$host",'
    '"path":"$request_uri","status":$status,"bytes_in":$request_length,'
    '"bytes_out":$bytes_sent,"duration_ms":$request_time,'
    '"backend_ms":"$upstream_response_time","app":"bench","backend":"$upstream_addr",'
    '"sozu_id":"$request_id"}';
  ${log}
  upstream be { server 127.0.0.1:${backendPort}; keepalive 128; }
  server { listen 127.0.0.1:${port};
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`,
    );
    const child = spawn(name, "nginx", [
      "-c",
      conf,
      "-e",
      join(dir, `${name}.err`),
      "-g",
      "daemon off;",
    ]);
    children.push(child);
    return { port, pid: child.pid };
  };
  try {
    const plain = start("polyagent plain", "plain");
    const variants: Variant[] = [
      {
        name: "metrics on",
        on: start("polyagent metrics", "metrics"),
        off: plain,
        target: 0.97,
        headers: [],
      },
      {
        name: "sticky on (cookie sent)",
        on: start("polyagent sticky", "plain,sticky"),
        off: plain,
        target: 0.97,
        headers: ["Cookie: SOZUBALANCEID=b0; other=1"],
      },
      {
        name: "access log on",
        on: start("polyagent access log", `plain,accesslog=${join(dir, "access.log")}`),
        off: plain,
        target: 0.95,
        headers: [],
      },
      {
        name: "nginx: access log on (reference)",
        on: nginx("nginx-log", `access_log ${dir}/nginx-access.log json buffer=64k;`),
        off: nginx("nginx-nolog", "access_log off;"),
        target: null,
        headers: [],
      },
    ];
    for (const v of variants) {
      await waitPort(v.on.port, v.name);
      await waitPort(v.off.port, v.name);
    }
    const url = (t: Target) => `http://127.0.0.1:${t.port}/1k.txt`;
    const run = async (t: Target, headers: string[]) => {
      const c0 = cpuSeconds(t.pid);
      const r = await wrk(url(t), 64, seconds, 2, headers);
      return { ...r, cpuUs: (cpuSeconds(t.pid) - c0) / (r.rps * seconds) * 1e6 };
    };
    console.log("\n## features on vs off (wrk -t2 -c64; off = metrics, sticky, access log off)\n");
    console.log(
      "| variant | req/s | off req/s | ×off | target | CPU/req µs | off CPU/req µs | CPU ×off | p99 ms | off p99 ms | errors |",
    );
    console.log("|---|---|---|---|---|---|---|---|---|---|---|");
    for (const v of variants) {
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      const on = { rps: [] as number[], cpu: [] as number[], p99: [] as number[] };
      const off = { rps: [] as number[], cpu: [] as number[], p99: [] as number[] };
      let errors = 0;
      await wrk(url(v.on), 64, Math.min(2, seconds), 2, v.headers);
      await wrk(url(v.off), 64, Math.min(2, seconds), 2, v.headers);
      for (let r = 0; r < rounds; r++) {
        const [b2, a] = await inTurn(r, () => run(v.on, v.headers), () => run(v.off, v.headers));
        ratios.push(b2.rps / a.rps);
        cpuRatios.push(b2.cpuUs / a.cpuUs);
        on.rps.push(b2.rps), on.cpu.push(b2.cpuUs), on.p99.push(b2.p99);
        off.rps.push(a.rps), off.cpu.push(a.cpuUs), off.p99.push(a.p99);
        errors += a.errors + b2.errors;
      }
      console.log(
        `| ${v.name} | ${fmt(median(on.rps))} | ${fmt(median(off.rps))} | ${
          fmt(median(ratios), 3)
        } | ${v.target === null ? "—" : `≥ ${v.target}`} | ${fmt(median(on.cpu), 1)} | ${
          fmt(median(off.cpu), 1)
        } | ${fmt(median(cpuRatios), 3)} | ${fmt(median(on.p99), 2)} | ${
          fmt(median(off.p99), 2)
        } | ${errors} |`,
      );
    }
  } finally {
    for (const c of children.reverse()) await c.stop();
  }
}
