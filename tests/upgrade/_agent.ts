/**
 * The real agent for upgrade tests: a config with admin and sozu (plus any sections a test
 * adds) on a temporary directory, a proxy set up in front of a test backend, `polyagent upgrade`,
 * and a cleanup that stops every generation of the agent by pid (a successor is not the test's
 * child: it outlives the agent the test started).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { processExists } from "../../lib/core/mod.ts";
import { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import {
  type AgentProcess,
  agentSection,
  freePort,
  polyagent,
  spawnAgent,
  waitFor,
} from "../_helpers/mod.ts";

/** Paths and ports of one test agent. */
export interface UpgradeWorld {
  dir: string;
  config: string;
  sozuSocket: string;
  adminPort: number;
  proxyPort: number;
  pidFile: string;
  runDir: string;
}

/** Writes the config: admin, sozu with one proxy listener, then `extra` lines. */
export async function writeWorld(
  dir: string,
  options: { sozu?: string[]; extra?: string[]; agent?: Record<string, string | number> } = {},
): Promise<UpgradeWorld> {
  const adminPort = freePort();
  const proxyPort = freePort();
  const runDir = join(dir, "run");
  const world: UpgradeWorld = {
    dir,
    config: join(dir, "agent.toml"),
    sozuSocket: join(runDir, "sozu.sock"),
    adminPort,
    proxyPort,
    pidFile: join(runDir, "polyagent.pid"),
    runDir,
  };
  await Deno.writeTextFile(
    world.config,
    agentSection(dir, {
      log_level: "info",
      log_format: "json",
      pid_file: world.pidFile,
      ...options.agent,
    }) +
      [
        "[admin]",
        `listen = "127.0.0.1:${adminPort}"`,
        "[sozu]",
        "enabled = true",
        `command_socket = "${world.sozuSocket}"`,
        `listeners = ["127.0.0.1:${proxyPort}"]`,
        ...(options.sozu ?? []),
        ...(options.extra ?? []),
        "",
      ].join("\n"),
  );
  return world;
}

/** Every generation of a test agent; disposing stops them all. */
export interface Generations extends AsyncDisposable {
  first: AgentProcess;
  /** Pids of successors started by upgrades. */
  successors: number[];
}

/** Starts the agent and waits for its sozu socket and proxy listener lines. */
export async function startGenerations(world: UpgradeWorld): Promise<Generations> {
  const first = spawnAgent({ args: ["serve", "--config", world.config] });
  const generations: Generations = {
    first,
    successors: [],
    async [Symbol.asyncDispose]() {
      for (const pid of generations.successors) await stopPid(pid);
      await first[Symbol.asyncDispose]();
    },
  };
  try {
    await first.waitForLine(
      new RegExp(`^sozu\\s+http://127\\.0\\.0\\.1:${world.proxyPort}`),
      30_000,
    );
  } catch (error) {
    await generations[Symbol.asyncDispose]();
    throw error;
  }
  return generations;
}

/** Whether a process exists. */
export const alive: (pid: number) => boolean = processExists;

/** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
export async function stopPid(pid: number): Promise<void> {
  if (!alive(pid)) return;
  try {
    Deno.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  try {
    await waitFor(() => !alive(pid), { timeoutMs: 10_000, what: `pid ${pid} to exit` });
  } catch {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

/** What `polyagent upgrade` printed, and the successor's pid when it succeeded. */
export interface UpgradeRun {
  code: number;
  stdout: string;
  stderr: string;
  pid: number | null;
}

/** Runs `polyagent upgrade --config …`; a successor's pid is added to `generations`. */
export async function runUpgrade(
  world: UpgradeWorld,
  generations: Generations | null,
  args: string[] = [],
): Promise<UpgradeRun> {
  const r = await polyagent(["upgrade", "--config", world.config, ...args]);
  const m = /^OK\s+new main process launched with pid (\d+)/m.exec(r.stdout);
  const pid = m ? Number(m[1]) : null;
  if (pid !== null) generations?.successors.push(pid);
  return { ...r, pid };
}

/** Sends one request on the sozu socket; resolves with the final reply (and the PROCESSING ones). */
export async function sozu(
  world: UpgradeWorld,
  body: { type: string; data?: unknown },
  timeoutMs = 15_000,
): Promise<{ status: string; message: string; data: unknown; processing: string[] }> {
  const client = await SozuClient.connect(world.sozuSocket, 5000);
  const processing: string[] = [];
  try {
    const reply = await client.request(body, {
      timeoutMs,
      onReply: (r) => {
        if (r.status === "PROCESSING") processing.push(r.message);
      },
    });
    return { ...reply, processing };
  } finally {
    client.close();
  }
}

/** Routes `app.test` on the proxy listener to `backend`. */
export async function routeToBackend(world: UpgradeWorld, backend: string): Promise<void> {
  const order = async (type: string, data: unknown) => {
    const r = await sozu(world, { type: "PROXY", data: { type, data } });
    assert.equal(r.status, "OK", `${type}: ${r.message}`);
  };
  const listener = `127.0.0.1:${world.proxyPort}`;
  await order("ADD_APPLICATION", { app_id: "web" });
  await order("ADD_HTTP_FRONT", {
    app_id: "web",
    address: listener,
    hostname: "app.test",
    path_begin: "/",
  });
  await order("ADD_BACKEND", { app_id: "web", backend_id: "b1", address: backend });
}

/** The proxy's state (DUMP_STATE data). */
export async function dumpState(world: UpgradeWorld): Promise<unknown> {
  const r = await sozu(world, { type: "DUMP_STATE" });
  assert.equal(r.status, "OK", r.message);
  return r.data;
}

/** GET /healthz. */
export async function healthz(world: UpgradeWorld): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${world.adminPort}/healthz`);
  return await res.json();
}

/** The pid in the agent's pid file. */
export async function pidFromFile(world: UpgradeWorld): Promise<number> {
  return Number((await Deno.readTextFile(world.pidFile)).trim());
}
