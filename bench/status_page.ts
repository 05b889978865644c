/**
 * `deno task bench status_page [--duration S] [--rounds N]`: what an open status page costs the
 * proxy. The real agent (admin + sozu, one proxy worker) proxies a 1 KiB file from nginx; wrk
 * runs at 64 connections with the page closed, then with the page open and streaming (a reader
 * on `/status/events`, which makes the agent build, render and send an update every second,
 * asking the workers for their backend figures each time), in interleaved pairs (the order
 * alternates). Prints req/s of each run, the agent's CPU time per request (less sensitive to a
 * busy machine than req/s), and the ratios open / closed.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, polyagent, RUNTIME_FLAGS } from "../tests/_helpers/mod.ts";
import { inTurn, median, printTable } from "./_util.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** Requests per second (and errors) of one wrk run. */
async function wrkRps(url: string, seconds: number): Promise<{ rps: number; errors: number }> {
  const out = await new Deno.Command("wrk", {
    args: ["-t2", "-c64", `-d${seconds}s`, "--timeout", "10s", url],
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const errors = [...text.matchAll(/(?:Non-2xx or 3xx responses|Socket errors):[^\n]*/g)].length;
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN), errors };
}

/** utime + stime of a process (all its threads), seconds; /proc is read with cat. */
async function cpuSeconds(pid: number): Promise<number> {
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped" })
    .output();
  const stat = new TextDecoder().decode(out.stdout);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One wrk run with the agent's CPU time per request, µs. */
async function measured(url: string, seconds: number, pid: number) {
  const c0 = await cpuSeconds(pid);
  const r = await wrkRps(url, seconds);
  const cpu = await cpuSeconds(pid) - c0;
  return { ...r, usPerRequest: (cpu * 1e6) / (r.rps * seconds) };
}

/** Reads the status page's live stream until stopped; counts the updates. */
function openPage(admin: string): { stop(): Promise<number> } {
  const abort = new AbortController();
  let updates = 0;
  const done = (async () => {
    const res = await fetch(`${admin}/status/events`, { signal: abort.signal });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      updates += value.split("event: update").length - 1;
    }
  })().catch(() => {});
  return {
    async stop() {
      abort.abort();
      await done;
      return updates;
    },
  };
}

async function waitHttp(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`${url} did not answer`);
}

/** Writes nginx's and the agent's configs; returns the ports and the agent's config path. */
function writeConfigs(dir: string) {
  const ports = { backend: freePort(), proxy: freePort(), admin: freePort() };
  Deno.writeTextFileSync(join(dir, "1k.txt"), "x".repeat(1023) + "\n");
  Deno.writeTextFileSync(
    join(dir, "nginx.conf"),
    `worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/nginx.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000; client_body_temp_path ${dir};
  proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
  server { listen 127.0.0.1:${ports.backend}; root ${dir}; } }
`,
  );
  const config = join(dir, "agent.toml");
  Deno.writeTextFileSync(
    config,
    [
      `[agent]\nstate_dir = "${dir}/state"\nrun_dir = "${dir}/run"\nlog_dir = "${dir}/log"`,
      `log_level = "warn"\n[admin]\nlisten = "127.0.0.1:${ports.admin}"`,
      `[sozu]\nenabled = true\ncommand_socket = "${dir}/run/sozu.sock"`,
      `listeners = ["127.0.0.1:${ports.proxy}"]\nworker_count = 1\nautomatic_state_save = false`,
      "",
    ].join("\n"),
  );
  return { ...ports, config };
}

/** Entry point for `deno task bench status_page`. */
export async function run(args: string[]): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const seconds = arg("duration", 5);
  const rounds = arg("rounds", 3);
  const dir = join(ROOT, "var", "bench", `status-page-${Date.now()}`);
  Deno.mkdirSync(dir, { recursive: true });
  const c = writeConfigs(dir);
  const spawn = (cmd: string, argv: string[]) =>
    new Deno.Command(cmd, { args: argv, cwd: ROOT, stdout: "null", stderr: "null" }).spawn();
  const nginx = spawn("nginx", ["-c", join(dir, "nginx.conf"), "-g", "daemon off;"]);
  const agent = spawn(Deno.execPath(), [
    "run",
    "-q",
    "-P=agent",
    ...RUNTIME_FLAGS,
    join(ROOT, "main.ts"),
    "serve",
    "--config",
    c.config,
  ]);
  try {
    const admin = `http://127.0.0.1:${c.admin}`;
    await waitHttp(`${admin}/healthz`);
    const ctl = (...a: string[]) => polyagent(["ctl", "--config", c.config, "sozu", ...a]);
    await ctl("app", "add", "web");
    await ctl("front", "add", "web", "127.0.0.1");
    await ctl("backend", "add", "web", `127.0.0.1:${c.backend}`, "--id", "nginx");
    const url = `http://127.0.0.1:${c.proxy}/1k.txt`;
    await waitHttp(url);
    await wrkRps(url, 2);
    const rows: string[][] = [];
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const closed = async () => {
        await new Promise((r) => setTimeout(r, 1500)); // the same pause as before an open run
        return await measured(url, seconds, agent.pid);
      };
      const open = async () => {
        const page = openPage(admin);
        await new Promise((r) => setTimeout(r, 1500));
        const r = await measured(url, seconds, agent.pid);
        return { ...r, updates: await page.stop() };
      };
      const [off, on] = await inTurn(i, closed, open);
      ratios.push(on.rps / off.rps);
      cpuRatios.push(on.usPerRequest / off.usPerRequest);
      rows.push([
        String(i + 1),
        off.rps.toFixed(0),
        on.rps.toFixed(0),
        String(on.updates),
        (on.rps / off.rps).toFixed(3),
        off.usPerRequest.toFixed(1),
        on.usPerRequest.toFixed(1),
        String(off.errors + on.errors),
      ]);
    }
    console.log(`status page cost: wrk -c64 ${seconds}s, ${rounds} interleaved pairs`);
    printTable([
      "pair",
      "closed req/s",
      "open req/s",
      "SSE updates",
      "req/s open/closed",
      "closed CPU µs/req",
      "open CPU µs/req",
      "errors",
    ], rows);
    console.log(`median req/s open/closed: ${median(ratios).toFixed(3)}`);
    console.log(`median CPU per request open/closed: ${median(cpuRatios).toFixed(3)}`);
  } finally {
    for (const child of [agent, nginx]) {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone
      }
      await child.status;
    }
    Deno.removeSync(dir, { recursive: true });
  }
}
