/**
 * The whole life of an Intervirt network on real LXC containers, driven over the WebSocket of a
 * spawned agent: add/start, isolation until Connect (v4 and v6), Disconnect, internet on/off
 * against a fake internet with no route back, a DNAT port forward, an address change, kill -9 and
 * restart with drift repaired, stop/start/remove, `ctl` and a streamed wipe that leaves nothing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, freePort, ROOT, sh, spawnAgent, tempDir, waitFor } from "../_helpers/mod.ts";
import { parseLiveTable } from "../../lib/backends/netfilter/mod.ts";
import { IntervirtClient } from "../../lib/protocols/intervirt/mod.ts";
import {
  buildBusyboxImage,
  configToml,
  createFakeInternet,
  type LxcNames,
  teardown,
} from "./_lxc_fixture.ts";

const N: LxcNames = {
  bridge: "pivtbr0",
  table: "polyagent_piv",
  prefix: "pivt-",
  vethPrefix: "pivt",
  wanNs: "pivwan",
  wanHost: "pivwan0",
  wanPeer: "pivwan1",
  wanHostIp: "198.51.100.93",
  wanPeerIp: "198.51.100.94",
};

const TOOLS = ["lxc-start", "lxc-attach", "nft", "ip", "busybox", "curl", "nsenter", "sysctl"];

backendTest("intervirt on LXC: isolation, connect, internet, forwards, restart, wipe", {
  tools: TOOLS,
  root: true,
}, async () => {
  await using dir = await tempDir("piv");
  const lxcPath = join(dir.path, "lxc");
  const port = freePort();
  const url = `ws://127.0.0.1:${port}/containerManagement`;
  const configFile = join(dir.path, "agent.toml");
  await teardown(N, lxcPath);
  let agent = null as ReturnType<typeof spawnAgent> | null;
  let client = null as IntervirtClient | null;
  try {
    await buildBusyboxImage(join(dir.path, "state"), dir.path);
    // The client's image names ("debian/13") resolve to <state>/images/debian/13.tar.* first.
    await Deno.mkdir(join(dir.path, "state", "images", "debian"), { recursive: true });
    await Deno.copyFile(
      join(dir.path, "state", "images", "busybox.tar.gz"),
      join(dir.path, "state", "images", "debian", "13.tar.gz"),
    );
    await createFakeInternet(N);
    await Deno.writeTextFile(configFile, configToml(dir.path, N, port));
    agent = spawnAgent({ args: ["serve", "--config", configFile] });
    await agent.waitForLine(/^intervirt /);
    client = await IntervirtClient.connect(url);
    const c = client;
    const ok = async (body: Record<string, unknown>) => {
      const frames = await c.request(body, { timeoutMs: 60_000 });
      const last = frames.at(-1)!;
      assert.equal(last.code, undefined, `${JSON.stringify(body)} -> ${JSON.stringify(last)}`);
      assert.equal(last.type, "General");
      return frames;
    };
    const code = async (body: Record<string, unknown>) => (await c.call(body)).code;
    const ping = async (from: string, ip: string) =>
      (await sh([
        "lxc-attach",
        "-P",
        lxcPath,
        "-n",
        `${N.prefix}${from}`,
        "--",
        "ping",
        "-c1",
        "-W1",
        ip,
      ], {
        check: false,
      })).code === 0;
    const reaches = (from: string, ip: string) =>
      waitFor(() => ping(from, ip), { timeoutMs: 8000, what: `${from} reaching ${ip}` });
    const nftText = async () => (await sh(["nft", "list", "table", "inet", N.table])).stdout;

    // Add two containers (overlapping requests) and start them.
    const add = (id: string, last: number) => ({
      type: "AddContainer",
      id,
      ipv4: `10.93.7.${last}`,
      ipv6: `fd93:7::${last}`,
      mac: `02:00:0a:5d:07:${last}`,
      internet: false,
      image: "busybox",
    });
    await Promise.all([ok(add("c1", 11)), ok(add("c2", 12))]);
    assert.equal(await code(add("c1", 11)), 3);
    assert.equal(await code({ ...add("c3", 13), ipv4: "10.93.7.11" }), 8);
    assert.equal(await code({ ...add("c3", 13), ipv4: "10.93.7.1" }), 8);
    await Promise.all([
      ok({ type: "StartContainer", id: "c1" }),
      ok({ type: "StartContainer", id: "c2" }),
    ]);
    assert.equal(await code({ type: "StartContainer", id: "c1" }), 3);
    const mac = await sh([
      "lxc-attach",
      "-P",
      lxcPath,
      "-n",
      `${N.prefix}c1`,
      "--",
      "cat",
      "/sys/class/net/eth0/address",
    ]);
    assert.equal(mac.stdout.trim(), "02:00:0a:5d:07:11");

    // Unconnected: no traffic. Connected (repeated pairs): v4 and v6. Disconnected: none.
    assert.equal(await ping("c1", "10.93.7.12"), false);
    for (let i = 0; i < 3; i++) await ok({ type: "Connect", id1: "c1", id2: "c2" });
    await ok({ type: "Connect", id1: "c2", id2: "c1" });
    assert.deepEqual(parseLiveTable(await nftText()).elements.pairs4, [
      "10.93.7.11 . 10.93.7.12",
      "10.93.7.12 . 10.93.7.11",
    ]);
    await reaches("c1", "10.93.7.12");
    await reaches("c2", "fd93:7::11");
    await ok({ type: "Disconnect", id1: "c2", id2: "c1" });
    assert.equal(await ping("c1", "10.93.7.12"), false);
    assert.equal(await ping("c1", "fd93:7::12"), false);

    // Overlapping requests on the same containers are serialised in arrival order.
    await Promise.all([
      ok({ type: "Connect", id1: "c1", id2: "c2" }),
      ok({ type: "SetInternetAccess", id: "c1", enabled: true }),
      ok({ type: "Disconnect", id1: "c2", id2: "c1" }),
      ok({ type: "Connect", id1: "c2", id2: "c1" }),
      ok({ type: "SetInternetAccess", id: "c1", enabled: false }),
      ok({ type: "Disconnect", id1: "c1", id2: "c2" }),
    ]);
    const settled = parseLiveTable(await nftText()).elements;
    assert.deepEqual([settled.pairs4, settled.inet4], [[], []]);

    // Internet on/off against the fake internet (no route back: only masquerade answers).
    assert.equal(await ping("c1", N.wanPeerIp), false);
    await ok({ type: "SetInternetAccess", id: "c1", enabled: true });
    await reaches("c1", N.wanPeerIp);
    assert.equal(await ping("c2", N.wanPeerIp), false);
    await ok({ type: "SetInternetAccess", id: "c1", enabled: false });
    assert.equal(await ping("c1", N.wanPeerIp), false);

    // Port forward: the container's httpd from the fake internet and from the host.
    const ext = freePort();
    const fetchVia = async (ns: boolean) => {
      const argv = ["curl", "-s", "-m", "3", `http://${N.wanHostIp}:${ext}/index.html`];
      return (await sh(ns ? ["ip", "netns", "exec", N.wanNs, ...argv] : argv, { check: false }))
        .stdout;
    };
    await ok({
      type: "AddPortForwarding",
      id: "c2",
      internalPort: 80,
      externalPort: ext,
      protocol: "tcp",
    });
    assert.equal(
      await code({
        type: "AddPortForwarding",
        id: "c1",
        internalPort: 80,
        externalPort: ext,
        protocol: "tcp",
      }),
      3,
    );
    // Never a port the host serves on: sshd's 22, the agent's own listener.
    for (const externalPort of [22, port]) {
      const refused = await c.call({
        type: "AddPortForwarding",
        id: "c2",
        internalPort: 80,
        externalPort,
        protocol: "tcp",
      });
      assert.equal(refused.code, 8, JSON.stringify(refused));
      assert.match(refused.error!, new RegExp(`port ${externalPort} is`));
    }
    assert.equal(await waitFor(() => fetchVia(true), { timeoutMs: 8000 }), "hello\n");
    assert.equal(await fetchVia(false), "hello\n");
    await ok({ type: "RemovePortForwarding", externalPort: ext, protocol: "tcp" });
    assert.equal(await fetchVia(true), "");
    assert.equal(
      await code({ type: "RemovePortForwarding", externalPort: ext, protocol: "tcp" }),
      6,
    );

    // Address change (client's newIpv4, document's newIP): container and rules follow.
    await ok({ type: "Connect", id1: "c1", id2: "c2" });
    await ok({ type: "IDWithNewIpv4", id: "c2", newIpv4: "10.93.7.22" });
    await ok({ type: "IDWithNewIpv6", id: "c2", newIP: "fd93:7::22" });
    await reaches("c1", "10.93.7.22");
    await reaches("c1", "fd93:7::22");
    assert.equal(await ping("c1", "10.93.7.12"), false);
    assert.doesNotMatch(await nftText(), /10\.93\.7\.12/);
    assert.match(
      await Deno.readTextFile(join(lxcPath, `${N.prefix}c2`, "config")),
      /10\.93\.7\.22\/24/,
    );

    // kill -9, lose the nft table and bridge behind the agent's back, restart: state kept,
    // drift repaired.
    await ok({ type: "SetInternetAccess", id: "c2", enabled: true });
    await ok(add("c4", 14));
    await client.close();
    client = null;
    await agent.stop("SIGKILL");
    await sh(["nft", "delete", "table", "inet", N.table]);
    await sh(["ip", "link", "del", N.bridge]);
    await sh(["lxc-destroy", "-P", lxcPath, "-n", `${N.prefix}c4`]);
    agent = spawnAgent({ args: ["serve", "--config", configFile] });
    await agent.waitForLine(/^intervirt /);
    client = await IntervirtClient.connect(url);
    const c2 = client;
    const code2 = async (body: Record<string, unknown>) => (await c2.call(body)).code;
    const ok2 = async (body: Record<string, unknown>) => {
      const frames = await c2.request(body, { timeoutMs: 60_000 });
      assert.equal(frames.at(-1)!.code, undefined, JSON.stringify(frames.at(-1)));
      return frames;
    };
    assert.match(agent.stderr(), /did not match the stored state/);
    assert.match(agent.stderr(), /container c1 was detached from pivtbr0: re-attached/);
    assert.match(agent.stderr(), /container c4 is missing from the runtime/);
    await reaches("c1", "10.93.7.22");
    await reaches("c2", N.wanPeerIp);
    assert.equal(await code2({ type: "StartContainer", id: "c1" }), 3);
    assert.equal(await code2({ type: "StartContainer", id: "c4" }), 6);
    await ok2({ type: "RemoveContainer", id: "c4" });
    assert.equal(await code2(add("c2", 12)), 3);
    await ok2({ type: "Connect", id1: "c1", id2: "c2" });
    assert.deepEqual(parseLiveTable(await nftText()).elements.pairs4, [
      "10.93.7.11 . 10.93.7.22",
      "10.93.7.22 . 10.93.7.11",
    ]);

    // Stop / start / remove.
    await ok2({ type: "StopContainer", id: "c2" });
    assert.equal(await code2({ type: "StopContainer", id: "c2" }), 3);
    await ok2({ type: "StartContainer", id: "c2" });
    await reaches("c1", "10.93.7.22");
    // An address outside the bridge subnets (the client picks its own): on-link default route,
    // a host route and proxy ARP carry it to the internet.
    await ok2({
      ...add("c3", 13),
      ipv4: "10.94.7.13",
      ipv6: "fd94:7::13",
      internet: true,
      image: "debian/13",
    });
    await ok2({ type: "StartContainer", id: "c3" });
    assert.match(
      (await sh(["ip", "route", "show", "10.94.7.13"])).stdout,
      new RegExp(`dev ${N.bridge}`),
    );
    await reaches("c3", N.wanPeerIp);
    const removed = await ok2({ type: "RemoveContainer", id: "c2" });
    assert.ok(removed.length >= 2);
    assert.equal(removed[0]!.status, -1);
    assert.equal(typeof removed[0]!.progress, "number");
    assert.equal(await code2({ type: "StartContainer", id: "c2" }), 6);
    assert.doesNotMatch(await nftText(), /10\.93\.7\.22/);

    // ctl against the running agent, then a streamed wipe that leaves nothing behind.
    const ctl = (args: string[]) =>
      sh([
        Deno.execPath(),
        "run",
        "-q",
        "-P=agent",
        join(ROOT, "main.ts"),
        "ctl",
        "intervirt",
        "--url",
        url,
        ...args,
      ], {
        check: false,
      });
    const version = await ctl(["version"]);
    assert.equal(version.stdout.trim(), "0.1.0");
    const missing = await ctl(["start", "nobody"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /error 6/);
    const wiped = await ok2({ type: "Command", command: "wipe" });
    assert.deepEqual(
      wiped.filter((f) => f.status === -1).map((f) => f.output).sort(),
      ["Removing container c1", "Removing container c3"],
    );
    assert.equal((await sh(["lxc-ls", "-P", lxcPath, "-1"])).stdout.trim(), "");
    assert.equal((await sh(["nft", "list", "table", "inet", N.table], { check: false })).code, 1);
    assert.equal((await sh(["ip", "link", "show", N.bridge], { check: false })).code, 1);
    assert.doesNotMatch(
      (await sh(["ip", "-o", "link"])).stdout,
      new RegExp(`: ${N.vethPrefix}[0-9a-f]{8}`),
    );
    const state = JSON.parse(await Deno.readTextFile(join(dir.path, "state", "intervirt.json")));
    assert.deepEqual(state.data, { containers: {}, connections: [], forwards: [] });
  } finally {
    await client?.close().catch(() => {});
    await agent?.[Symbol.asyncDispose]();
    await teardown(N, lxcPath);
  }
});
