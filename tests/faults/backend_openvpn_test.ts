/**
 * openvpn's management interface that stops answering, for real: cryptoded's `openvpn` is a
 * stand-in (`silent_management.ts`) that listens on the management socket, accepts and never
 * answers. CONNECT must fail within `connect_timeout` with cryptoded's error naming the cause, the
 * stand-in must be killed (by pid: nothing outlives the failed connect), the service must stay up
 * and `/healthz` must show the tunnel's backend error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, ROOT, sh, waitFor } from "../_helpers/mod.ts";
import { type FuzzAgent, startFuzzAgent } from "../../scripts/fuzz/agent.ts";
import { QuixControlServer } from "../../scripts/fuzz/targets/quix.ts";
import { CRYPTODED, cryptoded, PROFILE } from "../../scripts/crash/clients.ts";

async function alive(pid: number): Promise<boolean> {
  const r = await sh(["ps", "-o", "stat=", "-p", String(pid)], { check: false });
  return r.code === 0 && !r.stdout.trim().startsWith("Z");
}

/** A root-owned 0755 `openvpn` that runs the silent stand-in with the arguments it was given. */
async function fakeOpenvpn(dir: string): Promise<string> {
  const path = join(dir, "openvpn");
  const script = join(ROOT, "tests", "faults", "silent_management.ts");
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ${Deno.execPath()} run -A --no-check --quiet ${script} "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  return path;
}

async function healthDetail(agent: FuzzAgent, service: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://${agent.endpoints.admin}/healthz`);
  const body = await res.json() as {
    services: { name: string; detail: Record<string, unknown> }[];
  };
  return body.services.find((s) => s.name === service)?.detail ?? {};
}

backendTest(
  "faults: an openvpn whose management socket never answers fails CONNECT with an error, is killed, and cryptoded stays up",
  { root: true },
  async () => {
    const base = await Deno.makeTempDir({ dir: "/tmp", prefix: "polyagent-ovpn-" });
    await Deno.chmod(base, 0o755);
    const quix = await QuixControlServer.start();
    let agent: FuzzAgent | null = null;
    let pid = 0;
    try {
      agent = await startFuzzAgent({
        quixUrl: quix.url,
        quixUser: quix.user,
        quixPassword: quix.password,
        label: "ovpn",
        overrides: [
          `cryptoded.openvpn=${await fakeOpenvpn(base)}`,
          "cryptoded.connect_timeout=3000",
          "cryptoded.stop_timeout=500",
        ],
      });
      const socket = agent.endpoints.cryptodedSocket;
      const imported = await cryptoded(socket, CRYPTODED.IMPORT, {
        name: "silent",
        content: PROFILE,
      });
      assert.equal(imported.code, 0, imported.raw);
      // CONNECT answers at once (CONNECTING, as rvd did); the tunnel then fails on its own
      const connect = await cryptoded(socket, CRYPTODED.CONNECT, "silent");
      assert.equal(connect.code, 0, connect.raw);
      pid = await waitFor(async () => {
        const text = await Deno.readTextFile(
          join(agent!.dir, "run", "cryptoded-tunnels", "silent.pid"),
        ).catch(() => "");
        return Number(text.trim()) || null;
      }, { what: "the openvpn stand-in's pid file" });
      const failed = await waitFor(async () => {
        const r = await cryptoded(socket, CRYPTODED.STATUS, "silent", { detail: true });
        const view = r.data as Record<string, unknown>;
        return view?.status === "DISCONNECTED" && view["last-error"] ? view : null;
      }, { timeoutMs: 20_000, what: "the tunnel to fail" });
      assert.match(String(failed["last-error"]), /management|timed out|time/i);
      await waitFor(async () => !(await alive(pid)), { what: `openvpn stand-in ${pid} gone` });
      const detail = await healthDetail(agent, "cryptoded");
      assert.match(JSON.stringify(detail), /management|timed out/i, JSON.stringify(detail));
      assert.equal(await agent.health(), null);
    } finally {
      await agent?.stop();
      await quix.stop();
      if (pid > 0) await sh(["kill", "-9", String(pid)], { check: false });
      if (agent) await Deno.remove(agent.dir, { recursive: true }).catch(() => {});
      await Deno.remove(base, { recursive: true }).catch(() => {});
    }
  },
);
