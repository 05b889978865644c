/**
 * The real `rvc` client (commit 8094ffc, the document's numbering), unmodified, against the
 * agent's default document socket (`/var/run/rvd`, pid file `/var/run/rvd.pid`) in a private
 * mount namespace, through every command of the original rvd's transcript (B01–B25), with a real
 * openvpn server in a network namespace. Where this agent answers otherwise than the original
 * did, it is because the original's tunnels never reached CONNECTED with OpenVPN 2.6 (B09, B19,
 * B20 answered from a dropped tunnel); the step names say so.
 */
import assert from "node:assert/strict";
import * as real from "./_clients.ts";

real.clientsTest(
  "rvc 8094ffc, unmodified, through the original daemon's transcript (B01-B25)",
  "rvc",
  { alpha: {}, beta: {} },
  async (run, name) => {
    const r = JSON.parse((await run("status", name, "--json")).stdout);
    return r.code === 0 ? r.data.status as string : `code ${r.code}`;
  },
  async (t, c) => {
    const { world, run: rvc, expect, until, json } = c;
    const { ns, env, agent, pid, profile: P } = world;
    const block = (name: string, o: Parameters<typeof real.statusBlock>[2] = {}) =>
      real.statusBlock("document", P(name), o);
    const signalled = `Sending reload signal to rvd process '${pid}' has succeeded.\n`;

    await t.step("the pid file names the agent", async () => {
      assert.equal((await ns.read("/var/run/rvd.pid"))?.trim(), pid);
    });
    await t.step("B01 version", async () => {
      assert.match((await expect(["version"], 0)).stdout, /^Relaxed VPN command line client - /);
    });
    await t.step("B02-B06 status, text and JSON, one and all, and a missing name", async () => {
      await expect(["status"], 0, block("alpha") + block("beta") + "\n");
      const all = json(await expect(["status", "--json"], 0));
      assert.equal(all.code, 0);
      assert.deepEqual(all.data.map((s: { name: string }) => s.name), ["alpha", "beta"]);
      await expect(["status", "alpha"], 0, block("alpha") + "\n");
      const alpha = json(await expect(["status", "alpha", "--json"], 0));
      assert.deepEqual(Object.keys(alpha.data), [
        "name",
        "profile",
        "status",
        "ovpn-status",
        "in-total",
        "out-total",
        "timestamp",
        "auto-connect",
        "pre-exec-cmd",
        "pre-exec-status",
      ]);
      await expect(["status", "nosuch"], 0, "Connection not found\n");
    });
    await t.step("B07-B08 connect alpha: CONNECTING, then CONNECTED for real", async () => {
      await expect(["connect", "alpha"], 0, block("alpha", { status: "CONNECTING" }) + "\n");
      await until("alpha", "CONNECTED");
      const text = real.normalize((await expect(["status", "alpha"], 0)).stdout);
      assert.equal(text, block("alpha", { status: "CONNECTED", ovpn: "CONNECTED" }) + "\n");
      const network = json(await rvc("status", "alpha", "--json")).data.network;
      assert.ok(network["connected-time"] > 1_700_000_000);
    });
    await t.step(
      "B09 connect alpha --json: already connected (the original's had dropped)",
      async () => {
        await expect(["connect", "alpha", "--json"], 0, '{ "code": 15, "data": { } }\n');
      },
    );
    await t.step("B10-B11 disconnect alpha, then again", async () => {
      await expect(["disconnect", "alpha"], 0, block("alpha") + "\n");
      await expect(["disconnect", "alpha", "--json"], 0, '{ "code": 16, "data": { } }\n');
    });
    await t.step("B12-B13 connect all --json, disconnect all", async () => {
      const c = json(await expect(["connect", "all", "--json"], 0));
      assert.deepEqual(c.data.map((s: { name: string }) => s.name), ["alpha", "beta"]);
      for (const s of c.data) assert.match(s.status, /^CONNECT(ING|ED)$/);
      await until("alpha", "CONNECTED");
      await until("beta", "CONNECTED");
      await expect(["disconnect", "all"], 0, block("alpha") + block("beta") + "\n");
    });
    await t.step("B14 script-security: the client sends nothing and exits 255", async () => {
      await expect(["script-security", "enable"], 255, "", "");
    });
    await t.step("B15-B17 import: GET_CONFDIR's path has no newline, then SIGUSR1", async () => {
      await real.checkImports(c, signalled);
    });
    await t.step("B18-B19 remove of a connected profile: refused, then forced", async () => {
      await expect(["connect", "alpha"], 0, block("alpha", { status: "CONNECTING" }) + "\n");
      await until("alpha", "CONNECTED");
      await expect(["remove", "alpha"], 17, "", real.stillLive("alpha"));
      await expect(["remove", "alpha", "--force"], 0, "", signalled);
      await until("alpha", "code 14");
    });
    await t.step("B20-B21 disconnect the removed alpha, remove beta", async () => {
      await expect(["disconnect", "alpha"], 0, "Connection not found\n");
      await expect(["remove", "beta"], 0, "", signalled);
      await until("beta", "code 14");
    });
    await t.step("B22 reload", async () => {
      await expect(["reload"], 0, "", signalled);
    });
    await t.step("B23-B25 dns-override: the client's own helper is missing", async () => {
      await real.checkDnsHelperMissing(c, "rvc");
    });
    await t.step("the profile directory and the agent at the end", () => {
      const left = [...Deno.readDirSync(env.profiles)].map((e) => e.name).sort();
      assert.deepEqual(left, ["new1.ovpn", "tunnelblick-example2.ovpn"]);
      assert.doesNotMatch(agent.stderr(), /"msg":"stopping"/);
      assert.match(agent.stderr(), /"msg":"signal handled","signal":"SIGUSR1"/);
    });
  },
);
