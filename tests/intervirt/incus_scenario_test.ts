/**
 * The Incus runtime (`intervirt.runtime = "incus"`) through a spawned agent, against a private
 * incusd (its own INCUS_DIR under the test dir, started and stopped by the test): the local
 * busybox image is imported, containers get the requested MAC and addresses on the agent's
 * bridge, isolation and Connect work over v4 and v6, internet access against a fake internet
 * namespace, a DNAT port forward, and wipe leaves nothing behind.
 * Runs only where incus is installed (bookworm-backports `incus-base`; see the README).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, IS_ROOT, sh, spawnAgent, waitFor, which } from "../_helpers/mod.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import {
  buildBusyboxImage,
  configToml,
  createFakeInternet,
  type LxcNames,
  teardown,
} from "./_lxc_fixture.ts";

const N: LxcNames = {
  bridge: "pivibr0",
  table: "polyagent_pivi",
  prefix: "pivi-",
  vethPrefix: "pivi",
  wanNs: "pivwani",
  wanHost: "pivwani0",
  wanPeer: "pivwani1",
  wanHostIp: "198.51.100.97",
  wanPeerIp: "198.51.100.98",
};
const INCUSD = "/usr/libexec/incus/incusd";
const available = IS_ROOT && which("incus") !== null && which(INCUSD) !== null;
if (!available) {
  console.log("skipping the Incus scenario: incus (bookworm-backports) not installed");
}

function run(
  argv: string[],
  env: Record<string, string>,
  options: { check?: boolean; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return sh(argv, { ...options, env });
}

Deno.test({
  name:
    "intervirt on Incus: image import, MAC/addresses, isolation, connect, internet, forwards, wipe",
  ignore: !available,
  fn: async () => {
    // Unprivileged containers (shifted uids) must traverse the path to their rootfs, and ./var
    // is 0750: this test works under /tmp.
    const path = await Deno.makeTempDir({ prefix: "piv-incus-" });
    await using dir = {
      path,
      async [Symbol.asyncDispose]() {
        await Deno.remove(path, { recursive: true }).catch(() => {});
      },
    };
    const incusDir = join(dir.path, "incus");
    await Deno.chmod(dir.path, 0o755);
    await Deno.mkdir(incusDir, { recursive: true, mode: 0o711 });
    await Deno.mkdir(join(dir.path, "pool"), { recursive: true });
    const env = { INCUS_DIR: incusDir };
    const port = freePort();
    const configFile = join(dir.path, "agent.toml");
    await teardown(N, join(dir.path, "lxc"));
    const daemon = new Deno.Command(INCUSD, {
      args: [`--logfile=${join(dir.path, "incusd.log")}`],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let agent = null as ReturnType<typeof spawnAgent> | null;
    let client = null as IntervirtClient | null;
    try {
      await run([INCUSD, "waitready", "--timeout=60"], env);
      await run(["incus", "admin", "init", "--preseed"], env, {
        stdin: `storage_pools:
- name: pivpool
  driver: dir
  config:
    source: ${join(dir.path, "pool")}
profiles:
- name: default
  devices:
    root:
      path: /
      pool: pivpool
      type: disk
`,
      });
      await buildBusyboxImage(join(dir.path, "state"), dir.path);
      await createFakeInternet(N);
      await Deno.writeTextFile(configFile, configToml(dir.path, N, port, 'runtime = "incus"'));
      agent = spawnAgent({ args: ["serve", "--config", configFile], env });
      await agent.waitForLine(/^intervirt /);
      client = await IntervirtClient.connect(`ws://127.0.0.1:${port}/containerManagement`);
      const c = client;
      const ok = async (body: Record<string, unknown>) => {
        const frames = await c.request(body, { timeoutMs: 120_000 });
        assert.equal(frames.at(-1)!.code, undefined, JSON.stringify(frames.at(-1)));
        return frames;
      };
      const ping = async (from: string, ip: string) =>
        (await run(["incus", "exec", `${N.prefix}${from}`, "--", "ping", "-c1", "-W1", ip], env, {
          check: false,
        })).code === 0;
      for (const [id, last] of [["c1", 11], ["c2", 12]] as const) {
        await ok({
          type: "AddContainer",
          id,
          ipv4: `10.93.7.${last}`,
          ipv6: `fd93:7::${last}`,
          mac: `02:00:0a:5d:07:${last}`,
          internet: false,
          image: "busybox",
        });
        await ok({ type: "StartContainer", id });
      }
      const eth0 = await run(
        ["incus", "exec", `${N.prefix}c1`, "--", "ip", "addr", "show", "eth0"],
        env,
      );
      assert.match(eth0.stdout, /02:00:0a:5d:07:11/);
      assert.match(eth0.stdout, /10\.93\.7\.11\/24/);
      assert.match(eth0.stdout, /fd93:7::11\/64/);
      assert.equal(await ping("c1", "10.93.7.12"), false);
      await ok({ type: "Connect", id1: "c1", id2: "c2" });
      await waitFor(() => ping("c1", "10.93.7.12"), { timeoutMs: 8000 });
      await waitFor(() => ping("c2", "fd93:7::11"), { timeoutMs: 8000 });
      await ok({ type: "Disconnect", id1: "c1", id2: "c2" });
      assert.equal(await ping("c1", "10.93.7.12"), false);

      // Internet on/off against the fake internet (no route back: only masquerade answers).
      assert.equal(await ping("c1", N.wanPeerIp), false);
      await ok({ type: "SetInternetAccess", id: "c1", enabled: true });
      await waitFor(() => ping("c1", N.wanPeerIp), { timeoutMs: 8000 });
      assert.equal(await ping("c2", N.wanPeerIp), false);
      await ok({ type: "SetInternetAccess", id: "c1", enabled: false });
      assert.equal(await ping("c1", N.wanPeerIp), false);

      // Port forward: c2's httpd from the fake internet, then gone after removal.
      const ext = freePort();
      const fetchFromWan = async () =>
        (await run(
          [
            "ip",
            "netns",
            "exec",
            N.wanNs,
            "curl",
            "-s",
            "-m",
            "3",
            `http://${N.wanHostIp}:${ext}/index.html`,
          ],
          env,
          { check: false },
        )).stdout;
      await ok({
        type: "AddPortForwarding",
        id: "c2",
        internalPort: 80,
        externalPort: ext,
        protocol: "tcp",
      });
      assert.equal(await waitFor(fetchFromWan, { timeoutMs: 8000 }), "hello\n");
      await ok({ type: "RemovePortForwarding", externalPort: ext, protocol: "tcp" });
      assert.equal(await fetchFromWan(), "");

      await ok({ type: "StopContainer", id: "c2" });
      assert.equal((await c.call({ type: "StopContainer", id: "c2" })).code, 3);
      const wiped = await ok({ type: "Command", command: "wipe" });
      assert.equal(wiped.filter((f) => f.status === -1).length, 2);
      assert.equal(
        (await run(["incus", "list", "--format", "csv", "-c", "n"], env)).stdout.trim(),
        "",
      );
    } finally {
      await client?.close().catch(() => {});
      await agent?.[Symbol.asyncDispose]();
      const left = await run(["incus", "list", "--format", "csv", "-c", "n"], env, {
        check: false,
      });
      for (const name of left.stdout.split("\n").filter((n) => n.startsWith(N.prefix))) {
        await run(["incus", "delete", "--force", name], env, { check: false });
      }
      await run(["incus", "admin", "shutdown"], env, { check: false });
      try {
        daemon.kill("SIGTERM");
      } catch {
        // already gone
      }
      await daemon.status;
      await teardown(N, join(dir.path, "lxc"));
      await run(["umount", "-R", join(incusDir, "shmounts")], env, { check: false });
      await run(["umount", "-R", join(incusDir, "guestapi")], env, { check: false });
    }
  },
});
