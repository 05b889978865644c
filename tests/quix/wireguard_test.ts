import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, sh, waitFor, worldTempDir } from "../_helpers/mod.ts";
import { parseWireguardConf, WireguardConfigError } from "../../lib/backends/wireguard/mod.ts";
import { QuixTestServer } from "./_server.ts";
import { ctl, startAgent, writeConfig } from "./_agent.ts";

const KEY_A = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
const KEY_B = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";

function conf(extra = ""): string {
  return `[Interface]\nPrivateKey = ${KEY_A}\nAddress = 10.89.7.1/24\n${extra}\n[Peer]\nPublicKey = ${KEY_B}\nAllowedIPs = 10.89.7.2/32\nEndpoint = 10.88.7.2:51820\n`;
}

Deno.test("parseWireguardConf() accepts a wg-quick config and normalises it", () => {
  const c = parseWireguardConf(
    `# comment\n[interface]\nprivatekey=${KEY_A}\nAddress = 10.89.7.1/24, fd89::1/64\nListenPort = 51821\n\n[Peer]\nPublicKey = ${KEY_B}\nAllowedIPs = 0.0.0.0/0, ::/0\nEndpoint = th1.s.quix.click:51820\nPersistentKeepalive = 25\n`,
  );
  assert.deepEqual(c.addresses, ["10.89.7.1/24", "fd89::1/64"]);
  assert.equal(c.peers[0]!.endpoint, "th1.s.quix.click:51820");
  assert.match(c.text, /^\[Interface\]\nPrivateKey = /);
});

Deno.test("parseWireguardConf() refuses hooks, bad keys and malformed values, naming the field", () => {
  const cases: [string, string][] = [
    [conf("PostUp = touch /tmp/pwned"), "PostUp"],
    [conf("PreDown = id"), "PreDown"],
    [conf("DNS = 1.1.1.1"), "DNS"],
    [conf("SaveConfig = true"), "SaveConfig"],
    [conf().replace(KEY_A, "short"), "PrivateKey"],
    [conf().replace("10.89.7.1/24", "10.89.7.1/99"), "Address"],
    [conf().replace("10.88.7.2:51820", "10.88.7.2:99999"), "Endpoint"],
    [conf().replace("[Peer]", "[Pear]"), "Pear"],
    [conf().replace(/\[Peer\][\s\S]*/, ""), "Peer"],
    [conf("Bogus = 1"), "Bogus"],
    ["", "conf_data"],
    [conf() + "\0", "conf_data"],
  ];
  for (const [text, field] of cases) {
    assert.throws(() => parseWireguardConf(text), (e: unknown) => {
      assert.ok(e instanceof WireguardConfigError, String(e));
      assert.equal(e.field, field, e.message);
      return true;
    });
  }
  assert.ok(parseWireguardConf(conf("DNS = 1.1.1.1"), { allowDns: true }));
});

backendTest(
  "quix vpn: get_vpn_conf brings a wg-quick tunnel up in a namespace, traffic passes, bad configs keep it",
  { tools: ["wg", "wg-quick", "wireguard-go", "ip", "ping"], root: true },
  async () => {
    await using dir = await worldTempDir("pqx-wg");
    const server = new QuixTestServer({ vpnConf: conf() });
    await server.start();
    const pubB = (await sh(["wg", "pubkey"], { stdin: KEY_B })).stdout.trim();
    const pubA = (await sh(["wg", "pubkey"], { stdin: KEY_A })).stdout.trim();
    server.vpnConf = conf().replace(KEY_B, pubB);
    const peer: { child: Deno.ChildProcess | null } = { child: null };
    try {
      // Leftovers of an interrupted run of this test (our own prefix only).
      for (const ns of ["pqxa", "pqxb"]) await sh(["ip", "netns", "del", ns], { check: false });
      for (const name of ["pqxwg0", "pqxwgb0"]) {
        await Deno.remove(`/var/run/wireguard/${name}.sock`).catch(() => {});
      }
      await sh(["ip", "netns", "add", "pqxa"]);
      await sh(["ip", "netns", "add", "pqxb"]);
      await sh([
        "ip",
        "link",
        "add",
        "pqxv0",
        "netns",
        "pqxa",
        "type",
        "veth",
        "peer",
        "name",
        "pqxv1",
        "netns",
        "pqxb",
      ]);
      await sh(["ip", "-n", "pqxa", "addr", "add", "10.88.7.1/30", "dev", "pqxv0"]);
      await sh(["ip", "-n", "pqxb", "addr", "add", "10.88.7.2/30", "dev", "pqxv1"]);
      for (const [ns, dev] of [["pqxa", "pqxv0"], ["pqxb", "pqxv1"]]) {
        await sh(["ip", "-n", ns!, "link", "set", "lo", "up"]);
        await sh(["ip", "-n", ns!, "link", "set", dev!, "up"]);
      }
      // The peer: wireguard-go in the other namespace, kept as our child.
      const child = new Deno.Command("ip", {
        args: ["netns", "exec", "pqxb", "wireguard-go", "-f", "pqxwgb0"],
        stdout: "null",
        stderr: "null",
      }).spawn();
      peer.child = child;
      await waitFor(async () => {
        const conn = await Deno.connect({
          transport: "unix",
          path: "/var/run/wireguard/pqxwgb0.sock",
        });
        conn.close();
        return true;
      });
      const peerConf = join(dir.path, "peer.conf");
      await Deno.writeTextFile(
        peerConf,
        `[Interface]\nPrivateKey = ${KEY_B}\nListenPort = 51820\n[Peer]\nPublicKey = ${pubA}\nAllowedIPs = 10.89.7.1/32\n`,
        { mode: 0o600 },
      );
      await sh(["ip", "netns", "exec", "pqxb", "wg", "setconf", "pqxwgb0", peerConf]);
      await sh(["ip", "-n", "pqxb", "addr", "add", "10.89.7.2/24", "dev", "pqxwgb0"]);
      await sh(["ip", "-n", "pqxb", "link", "set", "pqxwgb0", "up"]);

      const world = await writeConfig(dir.path, server.url, {
        vpn: true,
        vpn_interface: "pqxwg0",
        vpn_netns: "pqxa",
      });
      await using agent = await startAgent(world);
      try {
        const s = await server.nextAuthenticated();
        await waitFor(() => server.frames.some((f) => f.frame.req === "get_vpn_conf"));
        await waitFor(() => Deno.statSync("/var/run/wireguard/pqxwg0.sock").isSocket, {
          timeoutMs: 20_000,
        });
        const file = join(dir.path, "state", "quix-wireguard", "pqxwg0.conf");
        assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
        const ping = () =>
          sh(["ip", "netns", "exec", "pqxa", "ping", "-c", "1", "-W", "2", "10.89.7.2"], {
            check: false,
          });
        await waitFor(async () => (await ping()).code === 0, { timeoutMs: 15_000, stepMs: 200 });

        // Traffic can pass before wg-quick has finished (routes, nft); vpn_status is "up" once the
        // apply completed ("down" before).
        const vpnStatus = await waitFor(async () => {
          const tele = await server.request(s, "telemetry", { stat_types: ["vpn_status"] }) as {
            tele_data: { vpn_status: Record<string, string> };
          };
          return tele.tele_data.vpn_status.state === "up" ? tele.tele_data.vpn_status : null;
        });
        assert.deepEqual(vpnStatus, {
          ifname: "pqxwg0",
          conn_type: "wireguard",
          conn_host: "10.88.7.2",
          conn_ip4: "10.89.7.1",
          conn_ip6: "",
          state: "up",
        });

        // The same config again is not re-applied.
        const same = await ctl(world, "vpn", "refresh");
        assert.equal(same.code, 0, same.stderr);
        assert.deepEqual(JSON.parse(same.stdout), { changed: false, ifname: "pqxwg0" });

        // A config with a hook is refused and the tunnel stays up.
        server.vpnConf = conf("PostUp = touch /tmp/pqx-pwned").replace(KEY_B, pubB);
        const bad = await ctl(world, "vpn", "refresh");
        assert.equal(bad.code, 1);
        assert.match(bad.stderr, /PostUp/);
        assert.equal((await ping()).code, 0);
        const status = JSON.parse((await ctl(world, "status", "--json")).stdout);
        assert.match(status.vpnError, /PostUp/);

        // A config that validates but fails in wg-quick (the same address twice) is rolled back:
        // the previous tunnel comes back up.
        server.vpnConf = conf().replace(KEY_B, pubB).replace(
          "Address = 10.89.7.1/24",
          "Address = 10.89.7.1/24, 10.89.7.1/24",
        );
        const failing = await ctl(world, "vpn", "refresh");
        assert.equal(failing.code, 1, failing.stdout);
        await waitFor(async () => (await ping()).code === 0, { timeoutMs: 15_000, stepMs: 200 });
        assert.doesNotMatch(await Deno.readTextFile(file), /10\.89\.7\.1\/24, 10/);
      } finally {
        await agent.stop();
      }
    } finally {
      await sh([
        "ip",
        "netns",
        "exec",
        "pqxa",
        "wg-quick",
        "down",
        join(dir.path, "state", "quix-wireguard", "pqxwg0.conf"),
      ], { check: false });
      if (peer.child !== null) {
        try {
          peer.child.kill("SIGTERM");
        } catch {
          // gone
        }
        await peer.child.status;
      }
      await sh(["ip", "netns", "del", "pqxa"], { check: false });
      await sh(["ip", "netns", "del", "pqxb"], { check: false });
      await server.stop();
    }
  },
);
