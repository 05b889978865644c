/**
 * The proxies `bench upgrade` upgrades under load: polyagent (`polyagent upgrade`), and nginx
 * reloaded (`-s reload`) or upgraded in place (USR2, WINCH, QUIT), each with the time from the
 * command to its answer and to the old process's exit.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { processExists } from "../lib/core/mod.ts";
import { SozuClient } from "../lib/protocols/sozu/mod.ts";
import { freePort, RUNTIME_FLAGS, waitFor, which } from "../tests/_helpers/mod.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const NGINX = which("nginx") ?? "nginx";

/** How long an upgrade took, ms, from its command. */
export interface Timings {
  /** To the command's answer (polyagent: OK; nginx: reload command done / new master up). */
  answerMs: number;
  /** To the old process's exit (the old agent, nginx's old workers or old master). */
  oldExitMs: number;
  note: string;
}

/** A proxy under load that can be upgraded once. */
export interface Gen {
  port: number;
  host: string;
  upgrade(): Promise<Timings>;
  stop(): Promise<void>;
}

async function gone(pids: number[]): Promise<void> {
  await waitFor(() => pids.every((p) => !processExists(p)), { timeoutMs: 60_000, stepMs: 5 });
}

function kill(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // gone
  }
}

async function listening(port: number): Promise<void> {
  await waitFor(async () => {
    const c = await Deno.connect({ hostname: "127.0.0.1", port });
    c.close();
    return true;
  }, { timeoutMs: 30_000, what: `port ${port}` });
}

/** A running nginx: its master pid (from its pid file), port and files. */
export interface Nginx {
  port: number;
  pidFile: string;
  conf: string;
  stop(): Promise<void>;
}

/** Starts nginx (daemonised, as USR2 needs) as a static backend or as a proxy to `upstream`. */
export async function startNginx(
  dir: string,
  name: string,
  options: { port: number; upstream?: number },
): Promise<Nginx> {
  const base = join(dir, name);
  await Deno.mkdir(join(base, "tmp"), { recursive: true });
  await Deno.writeTextFile(join(dir, "1k.txt"), "x".repeat(1023) + "\n", { mode: 0o644 });
  await Deno.chmod(dir, 0o755); // nginx's workers run as nobody
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((t) => `${t}_temp_path ${base}/tmp;`).join(" ");
  const server = options.upstream === undefined ? `root ${dir};` : `location / {
      proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }`;
  const upstream = options.upstream === undefined
    ? ""
    : `upstream be { server 127.0.0.1:${options.upstream}; keepalive 128; }`;
  const conf = join(base, "nginx.conf");
  const pidFile = join(base, "nginx.pid");
  await Deno.writeTextFile(
    conf,
    `worker_processes 1; pid ${pidFile}; error_log ${base}/error.log;
events { worker_connections 4096; }
http { access_log off; ${temps} ${upstream}
  server { listen 127.0.0.1:${options.port}; ${server} } }
`,
  );
  // by its full path: a binary upgrade re-executes argv[0], without a PATH search
  await new Deno.Command(NGINX, { args: ["-c", conf, "-e", `${base}/error.log`] }).output();
  await listening(options.port);
  return {
    port: options.port,
    pidFile,
    conf,
    async stop() {
      const pids: number[] = [];
      for (const file of [pidFile, `${pidFile}.oldbin`]) {
        const pid = Number((await Deno.readTextFile(file).catch(() => "0")).trim());
        if (pid > 0) pids.push(pid);
      }
      for (const pid of pids) kill(pid, "SIGTERM");
      await gone(pids).catch(() => {});
    },
  };
}

async function masterPid(nginx: Nginx, suffix = ""): Promise<number> {
  return Number((await Deno.readTextFile(nginx.pidFile + suffix)).trim());
}

function children(pid: number): number[] {
  const out = new Deno.Command("ps", { args: ["-o", "pid=", "--ppid", String(pid)] }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => Number(l.trim()))
    .filter((n) => n > 0);
}

/** `nginx -s reload`: a new generation of workers; the old ones finish and exit. */
export function nginxReload(nginx: Nginx): Gen {
  return {
    port: nginx.port,
    host: "bench.test",
    async upgrade() {
      const oldWorkers = children(await masterPid(nginx));
      const t0 = performance.now();
      await new Deno.Command(NGINX, { args: ["-c", nginx.conf, "-s", "reload"] }).output();
      const answerMs = performance.now() - t0;
      await gone(oldWorkers);
      return { answerMs, oldExitMs: performance.now() - t0, note: "new workers, same master" };
    },
    stop: () => nginx.stop(),
  };
}

/** nginx's executable upgrade: USR2 (new master and workers), then WINCH and QUIT to the old. */
export function nginxBinaryUpgrade(nginx: Nginx): Gen {
  return {
    port: nginx.port,
    host: "bench.test",
    async upgrade() {
      const old = await masterPid(nginx);
      const t0 = performance.now();
      kill(old, "SIGUSR2");
      await waitFor(async () => (await masterPid(nginx).catch(() => old)) !== old, {
        timeoutMs: 30_000,
        stepMs: 5,
      });
      const fresh = await masterPid(nginx);
      await waitFor(() => children(fresh).length > 0, { timeoutMs: 30_000, stepMs: 5 });
      const answerMs = performance.now() - t0;
      kill(old, "SIGWINCH");
      kill(old, "SIGQUIT");
      await gone([old]);
      return { answerMs, oldExitMs: performance.now() - t0, note: "new master and workers" };
    },
    stop: () => nginx.stop(),
  };
}

/** Starts polyagent (admin + sozu) in front of `backend`, `migrate` saying tcp_migrate_req. */
export async function startPolyagent(dir: string, backend: number, migrate: 0 | 1): Promise<Gen> {
  await Deno.mkdir(dir, { recursive: true });
  const port = freePort();
  const socket = join(dir, "run", "sozu.sock");
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(
    config,
    `[agent]
state_dir = "${dir}/state"
run_dir = "${dir}/run"
log_dir = "${dir}/log"
log_level = "warn"
tcp_migrate_req = ${migrate === 1}
[admin]
listen = "127.0.0.1:${freePort()}"
[sozu]
enabled = true
command_socket = "${socket}"
listeners = ["127.0.0.1:${port}"]
`,
  );
  const deno = (args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-q", "-P=agent", ...RUNTIME_FLAGS, join(ROOT, "main.ts"), ...args],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    });
  const agent = deno(["serve", "--config", config]).spawn();
  agent.stdout.pipeTo(new WritableStream()).catch(() => {});
  try {
    await route(socket, port, backend);
  } catch (error) {
    kill(agent.pid, "SIGKILL");
    throw error;
  }
  let successor = 0;
  return {
    port,
    host: "bench.test",
    async upgrade() {
      const t0 = performance.now();
      const out = await deno(["upgrade", "--config", config]).output();
      const answerMs = performance.now() - t0;
      const text = new TextDecoder().decode(out.stdout);
      successor = Number(/launched with pid (\d+)/.exec(text)?.[1] ?? 0);
      if (!successor) return { answerMs, oldExitMs: NaN, note: `failed: ${text.trim()}` };
      await agent.status;
      return { answerMs, oldExitMs: performance.now() - t0, note: "new agent process" };
    },
    async stop() {
      for (const pid of [successor, agent.pid]) if (pid > 0) kill(pid, "SIGTERM");
      await gone([successor, agent.pid].filter((p) => p > 0)).catch(() => {});
    },
  };
}

/** Routes `bench.test` on the agent's proxy listener to the backend. */
async function route(socket: string, port: number, backend: number): Promise<void> {
  await listening(port);
  const client = await waitFor(() => SozuClient.connect(socket, 5000), { timeoutMs: 30_000 });
  try {
    for (
      const [type, data] of [
        ["ADD_APPLICATION", { app_id: "bench" }],
        ["ADD_HTTP_FRONT", {
          app_id: "bench",
          address: `127.0.0.1:${port}`,
          hostname: "bench.test",
        }],
        ["ADD_BACKEND", { app_id: "bench", backend_id: "b", address: `127.0.0.1:${backend}` }],
      ] as const
    ) {
      const r = await client.request({ type: "PROXY", data: { type, data } }, {
        timeoutMs: 10_000,
      });
      if (r.status !== "OK") throw new Error(`${type}: ${r.message}`);
    }
  } finally {
    client.close();
  }
}
