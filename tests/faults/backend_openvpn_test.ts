/**
 * openvpn's management interface that stops answering, for real: cryptoded's `openvpn` is a
 * stand-in (`silent_management.ts`) that listens on the management socket, accepts and never
 * answers. CONNECT must fail within `connect_timeout` with cryptoded's error naming the cause, the
 * stand-in must be killed (by pid: nothing outlives the failed connect), the service must stay up
 * and `/healthz` must show the tunnel's backend error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, ROOT, sh, waitFor, worldTempDir } from "../_helpers/mod.ts";
import { startFaultAgent } from "./fault_agent.ts";
import { mountSmallDisk } from "./tmpfs.ts";
import { CRYPTODED, cryptoded, PROFILE } from "../../scripts/crash/clients.ts";

async function alive(pid: number): Promise<boolean> {
  const r = await sh(["ps", "-o", "stat=", "-p", String(pid)], { check: false });
  return r.code === 0 && !r.stdout.trim().startsWith("Z");
}

/**
 * Kills, on dispose, every openvpn stand-in the agent in `dir` started (openvpn outlives the
 * agent by design, so a test that fails half-way would leave one behind).
 */
function standInsKiller(dir: string): AsyncDisposable {
  return {
    async [Symbol.asyncDispose]() {
      const tunnels = join(dir, "run", "cryptoded-tunnels");
      let names: string[] = [];
      try {
        names = [...Deno.readDirSync(tunnels)].map((e) => e.name).filter((n) => n.endsWith(".pid"));
      } catch {
        // no tunnel was started
      }
      for (const name of names) {
        const pid = Number((await Deno.readTextFile(join(tunnels, name)).catch(() => "")).trim());
        if (pid <= 1) continue;
        // only our stand-in: the pid may belong to another process by now
        const args = await sh(["ps", "-o", "args=", "-p", String(pid)], { check: false });
        if (args.stdout.includes("silent_management")) {
          await sh(["kill", "-9", String(pid)], { check: false });
        }
      }
    },
  };
}

/** A root-owned 0755 `openvpn` that runs the silent stand-in with the arguments it was given. */
async function fakeOpenvpn(dir: string, mode = ""): Promise<string> {
  const path = join(dir, `openvpn${mode}`);
  const script = join(ROOT, "tests", "faults", "silent_management.ts");
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ${Deno.execPath()} run -A --no-check --quiet ${script} ${mode} "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

/**
 * An agent whose cryptoded runs the stand-in (`mode`) as openvpn, started with `overrides` and
 * `stateDir`; disposing kills any stand-in it left, then stops the agent.
 */
async function standInAgent(
  base: string,
  mode: string,
  o: { overrides?: string[]; stateDir?: string } = {},
) {
  const fault = await startFaultAgent({
    label: "ovpn",
    ...(o.stateDir ? { stateDir: o.stateDir } : {}),
    overrides: [`cryptoded.openvpn=${await fakeOpenvpn(base, mode)}`, ...(o.overrides ?? [])],
  });
  const standIns = standInsKiller(fault.agent.dir);
  const stopAgent = fault[Symbol.asyncDispose].bind(fault);
  return Object.assign(fault, {
    async [Symbol.asyncDispose]() {
      await standIns[Symbol.asyncDispose]();
      await stopAgent();
    },
  });
}

backendTest(
  "faults: an openvpn whose management socket never answers fails CONNECT with an error, is killed, and cryptoded stays up",
  { root: true },
  async () => {
    await using base = await worldTempDir("ovpn");
    await using fault = await standInAgent(base.path, "", {
      overrides: ["cryptoded.connect_timeout=3000", "cryptoded.stop_timeout=500"],
    });
    const agent = fault.agent;
    const socket = agent.endpoints.cryptodedSocket;
    const imported = await cryptoded(socket, CRYPTODED.IMPORT, {
      name: "silent",
      content: PROFILE,
    });
    assert.equal(imported.code, 0, imported.raw);
    // CONNECT answers at once (CONNECTING, as rvd did); the tunnel then fails on its own
    const connect = await cryptoded(socket, CRYPTODED.CONNECT, "silent");
    assert.equal(connect.code, 0, connect.raw);
    const pidPath = join(agent.dir, "run", "cryptoded-tunnels", "silent.pid");
    const pid = await waitFor(async () => {
      const text = await Deno.readTextFile(pidPath).catch(() => "");
      return Number(text.trim()) || null;
    }, { what: "the openvpn stand-in's pid file" });
    const failed = await waitFor(async () => {
      const r = await cryptoded(socket, CRYPTODED.STATUS, "silent", { detail: true });
      const view = r.data as Record<string, unknown>;
      return view?.status === "DISCONNECTED" && view["last-error"] ? view : null;
    }, { timeoutMs: 20_000, what: "the tunnel to fail" });
    assert.match(String(failed["last-error"]), /management interface did not answer/);
    await waitFor(async () => !(await alive(pid)), { what: `openvpn stand-in ${pid} gone` });
    const detail = await fault.detail("cryptoded");
    const backend = detail.backend as { state: string; lastError?: string };
    assert.equal(backend.state, "degraded", JSON.stringify(detail));
    assert.match(backend.lastError ?? "", /management interface did not answer/);
    assert.equal(await agent.health(), null);
  },
);

backendTest(
  "faults: CONNECT on a full state disk answers the error naming ENOSPC and starts no openvpn",
  { root: true, tools: ["mount", "umount", "dd"] },
  async () => {
    await using base = await worldTempDir("ovpn");
    await using disk = await mountSmallDisk(join(base.path, "disk"), 512);
    await using fault = await standInAgent(base.path, "", { stateDir: join(disk.path, "state") });
    const socket = fault.agent.endpoints.cryptodedSocket;
    const profile = { name: "full", content: PROFILE };
    assert.equal((await cryptoded(socket, CRYPTODED.IMPORT, profile)).code, 0);
    await disk.fill();
    // the connect is recorded before it is acknowledged: no record, no tunnel
    const connect = await cryptoded(socket, CRYPTODED.CONNECT, "full");
    assert.notEqual(connect.code, 0, connect.raw);
    assert.match(String(connect.data), /ENOSPC/);
    const status = await cryptoded(socket, CRYPTODED.STATUS, "full");
    assert.equal((status.data as { status?: string }).status, "DISCONNECTED", status.raw);
    const pidPath = join(fault.agent.dir, "run", "cryptoded-tunnels", "full.pid");
    assert.equal(await Deno.stat(pidPath).then(() => true, () => false), false);
    assert.equal(await fault.agent.health(), null);
  },
);

backendTest(
  "faults: an openvpn whose management falls silent once connected: DISCONNECT still ends it, by signal",
  { root: true },
  async () => {
    await using base = await worldTempDir("ovpn");
    await using fault = await standInAgent(base.path, "--answer-until-connected", {
      overrides: ["cryptoded.stop_timeout=500"],
    });
    const socket = fault.agent.endpoints.cryptodedSocket;
    const profile = { name: "mute", content: PROFILE };
    assert.equal((await cryptoded(socket, CRYPTODED.IMPORT, profile)).code, 0);
    assert.equal((await cryptoded(socket, CRYPTODED.CONNECT, "mute")).code, 0);
    await waitFor(async () => {
      const r = await cryptoded(socket, CRYPTODED.STATUS, "mute");
      return (r.data as { status?: string }).status === "CONNECTED";
    }, { timeoutMs: 20_000, what: "CONNECTED" });
    const pidPath = join(fault.agent.dir, "run", "cryptoded-tunnels", "mute.pid");
    const pid = Number((await Deno.readTextFile(pidPath)).trim());
    // management says nothing now: the stop falls back to a signal after the command timeout
    const off = await cryptoded(socket, CRYPTODED.DISCONNECT, "mute");
    assert.equal(off.code, 0, off.raw);
    await waitFor(async () => !(await alive(pid)), { what: `openvpn stand-in ${pid} gone` });
    const status = await cryptoded(socket, CRYPTODED.STATUS, "mute");
    assert.equal((status.data as { status?: string }).status, "DISCONNECTED", status.raw);
    assert.equal(await fault.agent.health(), null);
  },
);
