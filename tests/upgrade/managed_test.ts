/**
 * What the agent manages survives an upgrade untouched: a process started through Quix keeps its
 * pid and is re-adopted by the successor; the MASQ Node keeps its pid, the successor's Daemon
 * re-adopts it and a Daemon client reconnects to it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, freePort, polyagent, waitFor, worldTempDir } from "../_helpers/mod.ts";
import { QuixTestServer } from "../quix/_server.ts";
import { alive, healthz, runUpgrade, startGenerations, writeWorld } from "./_agent.ts";

function ctl(config: string, ...args: string[]) {
  return polyagent(["ctl", "--config", config, ...args]);
}

/** The quix processes the agent reports as running. */
async function quixRunning(config: string): Promise<number[]> {
  const r = await ctl(config, "quix", "status", "--json");
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout).processes as { pid: number }[]).map((p) => p.pid);
}

/** The Node pid the Daemon shows on /healthz (null when it has none). */
async function nodePid(adminPort: number): Promise<number | null> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
  const body = await res.json() as {
    services: { name: string; detail?: { node?: { pid: number } | null } }[];
  };
  return body.services.find((s) => s.name === "masq")?.detail?.node?.pid ?? null;
}

backendTest(
  "an upgrade does not touch a supervised process or the MASQ Node; the successor re-adopts them",
  { tools: ["sleep"], root: true },
  async () => {
    await using dir = await worldTempDir("upgrade-managed");
    const server = new QuixTestServer();
    await server.start();
    const uiPort = freePort();
    const world = await writeWorld(dir.path, {
      extra: [
        "[masq]",
        "enabled = true",
        `ui_port = ${uiPort}`,
        `data_root = "${join(dir.path, "masq")}"`,
        "[quix]",
        "enabled = true",
        `server_url = "${server.url}"`,
        "allow_insecure = true",
        'username = "quix123"',
        'password = "bright01"',
        `work_dir = "${join(dir.path, "work")}"`,
        "vpn = false",
        "heartbeat_ms = 0",
        "idle_timeout_ms = 0",
        "backoff_base_ms = 100",
        "backoff_max_ms = 1000",
        "check_ms = 200",
      ],
    });
    const killLater: number[] = [];
    try {
      await using generations = await startGenerations(world);
      const session = await server.nextAuthenticated();
      const exec = await server.request(session, "execute", { cmd: ["sleep", "1000"] }) as {
        result: string;
        proc_id: number;
      };
      assert.equal(exec.result, "success", JSON.stringify(exec));
      const sleeper = exec.proc_id;
      killLater.push(sleeper);
      const setup = await ctl(world.config, "masq", "setup", "neighborhood-mode=zero-hop");
      assert.equal(setup.code, 0, setup.stderr);
      const start = await ctl(world.config, "masq", "start");
      assert.equal(start.code, 0, start.stderr + start.stdout);
      const node = Number(/started in process (\d+)/.exec(start.stdout)?.[1]);
      killLater.push(node);
      assert.equal(await nodePid(world.adminPort), node);

      const back = server.nextAuthenticated();
      const run = await runUpgrade(world, generations);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal((await generations.first.child.status).code, 0);
      assert.ok(alive(sleeper), "the supervised process lives on");
      assert.ok(alive(node), "the Node lives on");
      assert.equal((await healthz(world) as { agent: { pid: number } }).agent.pid, run.pid);
      // the successor re-adopted both, and a Daemon client reaches the same Node through it
      assert.ok((await quixRunning(world.config)).includes(sleeper));
      await waitFor(async () => await nodePid(world.adminPort) === node, {
        what: "Node re-adopted",
      });
      const status = await ctl(world.config, "masq", "status");
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /^Node is running$/m);
      // the Quix link came back to the successor
      const s2 = await back;
      const running = await server.request(s2, "view_running", { verb: 1 }) as { pid: number }[];
      assert.ok(running.some((e) => e.pid === sleeper), JSON.stringify(running));
    } finally {
      for (const pid of killLater) {
        try {
          Deno.kill(-pid, "SIGKILL");
        } catch {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone
          }
        }
      }
      await server.stop();
    }
  },
);
