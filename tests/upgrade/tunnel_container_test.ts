/**
 * An upgrade under a live openvpn tunnel and running LXC containers: the tunnel's openvpn and the
 * containers keep their pids, a ping through the tunnel loses at most one packet, connected
 * containers still reach each other, and the successor re-adopts both (it answers for them).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type AgentProcess,
  backendTest,
  freePort,
  polyagent,
  sh,
  spawnAgent,
  tempDir,
  waitFor,
} from "../_helpers/mod.ts";
import { Cmd, Resp } from "../../lib/protocols/cryptoded/mod.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import { agentEnv, ask, vpnLab, writeProfile } from "../cryptoded/_env.ts";
import {
  buildBusyboxImage,
  configToml,
  type LxcNames,
  teardown,
} from "../intervirt/_lxc_fixture.ts";
import { alive, stopPid } from "./_agent.ts";

async function upgrade(config: string): Promise<number> {
  const r = await polyagent(["upgrade", "--config", config]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return Number(/launched with pid (\d+)/.exec(r.stdout)![1]);
}

async function tunnelState(socket: string): Promise<string> {
  const r = await ask(socket, Cmd.STATUS, "alpha");
  assert.equal(r.code, Resp.OK, JSON.stringify(r));
  return String((r.data as { status: string }).status);
}

backendTest(
  "an upgrade under a live openvpn tunnel: same openvpn, at most one ping lost, connects resumed",
  { tools: ["openvpn", "ip", "openssl", "ping"], root: true },
  async () => {
    await using lab = await vpnLab();
    await using env = await agentEnv({ netns: lab.clientNs, connect_timeout: 10_000 });
    await writeProfile(env.profiles, "alpha", lab.profile());
    const first = await env.start();
    let successor = 0;
    try {
      assert.equal((await ask(env.socket, Cmd.CONNECT, "alpha")).code, Resp.OK);
      await waitFor(async () => await tunnelState(env.socket) === "CONNECTED", {
        timeoutMs: 20_000,
        what: "the tunnel",
      });
      const pidFile = join(env.dir, "run", "cryptoded-tunnels", "alpha.pid");
      const openvpn = Number((await Deno.readTextFile(pidFile)).trim());
      // 0.1 s pings for 8 s, the upgrade in the middle
      const pings = "ping -c 80 -i 0.1 -W 1".split(" ");
      const ping = sh(["ip", "netns", "exec", lab.clientNs, ...pings, lab.serverTunIp], {
        check: false,
      });
      await new Promise((r) => setTimeout(r, 1500));
      successor = await upgrade(env.configFile);
      assert.equal((await first.child.status).code, 0);
      const out = (await ping).stdout;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
      assert.ok(m, out);
      assert.ok(Number(m[1]) - Number(m[2]) <= 1, `ping through the tunnel: ${m[0]}`);
      console.log(`ping through the tunnel across the upgrade: ${m[0]}`);
      assert.ok(alive(openvpn), "openvpn was not signalled");
      assert.equal(Number((await Deno.readTextFile(pidFile)).trim()), openvpn);
      assert.equal(await tunnelState(env.socket), "CONNECTED", "the successor re-adopted it");

      // a CONNECT still in its pre-connect-exec when the agent hands over is resumed by the
      // successor (the command is stopped and run again), not lost
      assert.equal((await ask(env.socket, Cmd.DISCONNECT, "alpha")).code, Resp.OK);
      await writeProfile(env.profiles, "beta", lab.profile(), {
        "pre-connect-exec": "/bin/sleep 3",
      });
      assert.equal((await ask(env.socket, Cmd.RELOAD)).code, Resp.OK);
      assert.equal((await ask(env.socket, Cmd.CONNECT, "beta")).code, Resp.OK);
      const second = await upgrade(env.configFile);
      await stopPid(successor);
      successor = second;
      await waitFor(async () => {
        const r = await ask(env.socket, Cmd.STATUS, "beta");
        return (r.data as { status: string }).status === "CONNECTED";
      }, { timeoutMs: 30_000, what: "beta connected by the second successor" });
      assert.match(first.stderr(), /resuming a connect interrupted by a restart/);
    } finally {
      if (successor) await stopPid(successor);
    }
  },
);

const N: LxcNames = {
  bridge: "piutbr0",
  table: "polyagent_piu",
  prefix: "piut-",
  vethPrefix: "piut",
  wanNs: "piuwan",
  wanHost: "piuwan0",
  wanPeer: "piuwan1",
  wanHostIp: "198.51.100.101",
  wanPeerIp: "198.51.100.102",
};

backendTest(
  "an upgrade under running LXC containers: same pids, still connected, re-adopted",
  { tools: ["lxc-start", "lxc-attach", "lxc-info", "nft", "ip", "busybox", "nsenter"], root: true },
  async () => {
    await using dir = await tempDir("piu");
    const lxcPath = join(dir.path, "lxc");
    const port = freePort();
    const config = join(dir.path, "agent.toml");
    await teardown(N, lxcPath);
    let successor = 0;
    let client: IntervirtClient | null = null;
    let agent: AgentProcess | null = null;
    try {
      await buildBusyboxImage(join(dir.path, "state"), dir.path);
      await Deno.writeTextFile(
        config,
        configToml(dir.path, N, port).replace("10.93.7.1/24", "10.94.7.1/24")
          .replace("fd93:7::1/64", "fd94:7::1/64"),
      );
      agent = spawnAgent({ args: ["serve", "--config", config] });
      await agent.waitForLine(/^intervirt /, 30_000);
      client = await IntervirtClient.connect(`ws://127.0.0.1:${port}/containerManagement`);
      const c = client;
      const ok = async (body: Record<string, unknown>) => {
        const last = (await c.request(body, { timeoutMs: 60_000 })).at(-1)!;
        assert.equal(last.code, undefined, `${JSON.stringify(body)} -> ${JSON.stringify(last)}`);
      };
      for (const [id, n] of [["c1", 11], ["c2", 12]] as const) {
        const address = { ipv4: `10.94.7.${n}`, ipv6: `fd94:7::${n}`, mac: `02:00:0a:5e:07:${n}` };
        await ok({ type: "AddContainer", id, ...address, internet: false, image: "busybox" });
        await ok({ type: "StartContainer", id });
      }
      await ok({ type: "Connect", id1: "c1", id2: "c2" });
      const attach = ["lxc-attach", "-P", lxcPath, "-n", `${N.prefix}c1`, "--"];
      const reaches = () =>
        waitFor(
          async () =>
            (await sh([...attach, ..."ping -c1 -W1 10.94.7.12".split(" ")], {
              check: false,
            })).code === 0,
          { timeoutMs: 8000, what: "c1 reaching c2" },
        );
      await reaches();
      const pids = async () =>
        await Promise.all(["c1", "c2"].map(async (id) =>
          Number(
            (await sh(["lxc-info", "-P", lxcPath, "-n", `${N.prefix}${id}`, "-p", "-H"])).stdout
              .trim(),
          )
        ));
      const before = await pids();
      assert.ok(before.every((p) => p > 1), String(before));
      client.close();
      successor = await upgrade(config);
      assert.equal((await agent.child.status).code, 0);
      assert.deepEqual(await pids(), before, "the containers were not touched");
      await reaches();
      // a client reconnects to the successor, which knows both containers
      client = await IntervirtClient.connect(`ws://127.0.0.1:${port}/containerManagement`);
      const again = await client.call({ type: "Connect", id1: "c1", id2: "c2" });
      assert.equal(again.code, undefined, JSON.stringify(again));
    } finally {
      client?.close();
      if (successor) await stopPid(successor);
      await agent?.[Symbol.asyncDispose]();
      await teardown(N, lxcPath);
    }
  },
);
