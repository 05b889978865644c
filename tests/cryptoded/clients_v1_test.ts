/**
 * The real `cryptode` v1.3.1 client, unmodified, against the agent's default v1.x socket
 * (`/var/run/cryptoded.sock`, pid file `/var/run/cryptoded/cryptoded.pid`) in a private mount
 * namespace, through every command of the original daemon's transcript (A01–A37), with a real
 * openvpn server in a network namespace. Where this agent answers otherwise than the original
 * did, it is because the original was broken: its tunnels never reached CONNECTED with OpenVPN
 * 2.6 (A08–A15 answered from a dropped tunnel), and `edit` / `remove` could not parse its status
 * (A28–A31); the step names say so.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sh } from "../_helpers/mod.ts";
import {
  checkDnsHelperMissing,
  checkImports,
  clientsTest,
  normalize,
  statusBlock,
  stillLive,
} from "./_clients.ts";

clientsTest(
  "cryptode v1.3.1, unmodified, through the original daemon's transcript (A01-A37)",
  "cryptode",
  { alpha: {}, beta: {}, dead: { port: 1999 } },
  async (run, name) => {
    const r = await run("json", "status", name);
    if (r.code !== 0) return `exit ${r.code}`;
    return JSON.parse(r.stdout).CryptodedConnectionStatus.state as string;
  },
  async (t, c) => {
    const { world, run: cryptode, expect, until, json } = c;
    const { lab, ns, env, agent, pid, profile: P } = world;
    const dir = env.profiles;
    const signalled = `Sending reload signal to cryptoded process '${pid}' has succeeded.\n`;
    const connecting = (name: string) =>
      statusBlock("v1", P(name), { status: "CONNECTING" }) + "\n";

    await t.step("the pid file names the agent", async () => {
      assert.equal((await ns.read("/var/run/cryptoded/cryptoded.pid"))?.trim(), pid);
    });
    await t.step("A01 version", async () => {
      const r = await expect(["version"], 0);
      assert.match(r.stdout, /^Crypt-ode VPN manager - 1\.3\.1 /);
    });
    await t.step("A02-A06 status, text and JSON, one and all, and a missing name", async () => {
      const blocks = ["alpha", "beta", "dead"].map((n) => statusBlock("v1", P(n))).join("");
      await expect(["status", "all"], 0, blocks + "\n");
      const all = json(await expect(["json", "status", "all"], 0));
      assert.deepEqual(all.map((s: { name: string }) => s.name), ["alpha", "beta", "dead"]);
      assert.deepEqual(all[2].endpointIp, {
        address: lab.profile().match(/remote (\S+)/)![1],
        netmask: 32,
      });
      assert.equal(all[2].port, 1999);
      await expect(["status", "alpha"], 0, statusBlock("v1", P("alpha")) + "\n");
      const alpha = json(await expect(["json", "status", "alpha"], 0));
      assert.deepEqual(Object.keys(alpha).slice(0, 11), [
        "name",
        "profile",
        "autoConnect",
        "endpointIp",
        "assignedIp",
        "port",
        "protocol",
        "ipVersion",
        "CryptodedConnectionStatus",
        "CryptodedPreExec",
        "code",
      ]);
      assert.deepEqual(alpha.CryptodedConnectionStatus, {
        state: "DISCONNECTED",
        ovpnState: "DISCONNECTED",
        connectionTime: "",
        netIn: 0,
        netOut: 0,
      });
      assert.deepEqual(alpha.CryptodedPreExec, {
        command: "",
        interval: 0,
        userId: 65534,
        returnCode: 0,
      });
      await expect(["json", "status", "nosuch"], 14, "{ }\n");
    });
    await t.step("A07 connect alpha: CONNECTING, then CONNECTED for real", async () => {
      await expect(["connect", "alpha"], 0, connecting("alpha"));
      await until("alpha", "CONNECTED");
      const s = json(await cryptode("json", "status", "alpha")).CryptodedConnectionStatus;
      assert.equal(s.ovpnState, "CONNECTED");
      assert.match(s.connectionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
    });
    await t.step(
      "A08-A09 connect again: Already connected (the original's had dropped)",
      async () => {
        await expect(["connect", "alpha"], 15, "Already connected\n");
        await expect(["json", "connect", "alpha"], 15, "{ }\n");
      },
    );
    await t.step("A10-A11 reconnect alpha, text and JSON", async () => {
      await expect(["reconnect", "alpha"], 0, connecting("alpha"));
      await until("alpha", "CONNECTED");
      const r = json(await expect(["json", "reconnect", "alpha"], 0));
      assert.equal(r.CryptodedConnectionStatus.state, "CONNECTING");
      await until("alpha", "CONNECTED");
    });
    await t.step("A12-A13 disconnect alpha: DISCONNECTED, then Already disconnected", async () => {
      await expect(["disconnect", "alpha"], 0, statusBlock("v1", P("alpha")) + "\n");
      await expect(["json", "disconnect", "alpha"], 16, "{ }\n");
      await expect(["disconnect", "alpha"], 16, "Already disconnected\n");
    });
    await t.step("A14-A15 json connect and disconnect beta", async () => {
      const c = json(await expect(["json", "connect", "beta"], 0));
      assert.equal(c.CryptodedConnectionStatus.state, "CONNECTING");
      await until("beta", "CONNECTED");
      const d = json(await expect(["json", "disconnect", "beta"], 0));
      assert.equal(d.CryptodedConnectionStatus.state, "DISCONNECTED");
    });
    await t.step("A16 json connect dead: CONNECTING, stopped at connect_timeout", async () => {
      const c = json(await expect(["json", "connect", "dead"], 0));
      assert.equal(c.CryptodedConnectionStatus.state, "CONNECTING");
      await until("dead", "DISCONNECTED");
    });
    await t.step("A17-A20 connect all, status all, disconnect all", async () => {
      type V1 = { name: string; CryptodedConnectionStatus: { state: string } };
      const c: V1[] = json(await expect(["json", "connect", "all"], 0));
      assert.deepEqual(c.map((s) => s.name), ["alpha", "beta", "dead"]);
      // the status right after starting each one (a fast tunnel may be up already)
      for (const s of c) assert.match(s.CryptodedConnectionStatus.state, /^CONNECT(ING|ED)$/);
      await until("alpha", "CONNECTED");
      await until("beta", "CONNECTED");
      const all = json(await expect(["json", "status", "all"], 0));
      assert.match(all[0].assignedIp.address, /^10\.78\./);
      assert.match(all[0].CryptodedConnectionStatus.connectionTime, /^\d{4}-/);
      const text = normalize((await expect(["status", "all"], 0)).stdout);
      assert.ok(
        text.startsWith(statusBlock("v1", P("alpha"), { status: "CONNECTED", ovpn: "CONNECTED" })),
        text,
      );
      const d = json(await expect(["json", "disconnect", "all"], 0));
      assert.ok(
        d.every((s: { CryptodedConnectionStatus: { state: string } }) =>
          s.CryptodedConnectionStatus.state === "DISCONNECTED"
        ),
      );
    });
    await t.step("A21-A23 client-side usage errors send nothing", async () => {
      const usage = await expect(["connect"], 255);
      assert.match(usage.stderr, /Missing argument for switch 'connect'/);
      for (const arg of ["enable", "disable"]) {
        assert.match((await expect(["script-security", arg], 0)).stdout, /^Usage: cryptode/);
      }
    });
    await t.step("A24-A27 import: copied by the client, reloaded by SIGUSR1", async () => {
      const src = await checkImports(c, signalled);
      const tblk = await Deno.readTextFile(P("tunnelblick-example2"));
      assert.match(tblk, /<ca>\n-----BEGIN CERTIFICATE-----/);
      const again = `The same configuration is already exist in '${dir}'\n`;
      await expect(["import", "new-from-ovpn", join(src, "new1.ovpn")], 11, "", again);
    });
    await t.step(
      "A28-A29 edit writes beta.noc (the original could not parse its own status)",
      async () => {
        const parsing = "Parsing the configuration with name 'beta'\n";
        const writing = "Writing the cryptode configuration with name 'beta'\n";
        await expect(["edit", "beta", "auto-connect", "enable"], 0, "", parsing + writing);
        await expect(
          ["edit", "beta", "pre-exec-cmd", "/bin/true"],
          0,
          "",
          parsing + `Parsing configuration file '${join(dir, "beta.noc")}'\n` + writing,
        );
        const noc = JSON.parse(await Deno.readTextFile(join(dir, "beta.noc")));
        assert.equal(noc["auto-connect"], true);
        assert.equal(noc["pre-connect-exec"], "/bin/true");
      },
    );
    await t.step(
      "reload applies the edit: beta auto-connects after its pre-exec command",
      async () => {
        await expect(["reload"], 0, "", signalled);
        await until("beta", "CONNECTED");
        const text = normalize((await expect(["status", "beta"], 0)).stdout);
        assert.equal(
          text,
          statusBlock("v1", P("beta"), {
            status: "CONNECTED",
            ovpn: "CONNECTED",
            auto: true,
            cmd: "/bin/true",
            preStatus: "SUCCESSFUL [0]",
            interval: "none",
            noc: true,
          }) + "\n",
        );
        const pre = json(await cryptode("json", "status", "beta")).CryptodedPreExec;
        assert.deepEqual(pre, { command: "/bin/true", interval: 0, userId: 65534, returnCode: 0 });
      },
    );
    await t.step("A30-A31 remove beta: refused while connected, then forced", async () => {
      await expect(["remove", "beta"], 17, "", stillLive("beta"));
      await expect(["remove", "beta", "force"], 0, "", signalled);
      await until("beta", "exit 14");
      await assert.rejects(Deno.lstat(P("beta")), Deno.errors.NotFound);
      const left = await sh(["pgrep", "-f", `openvpn .*${P("beta")}`], { check: false });
      assert.equal(left.stdout, "", "beta's openvpn was stopped by the reload");
    });
    await t.step("A32 reload", async () => {
      await expect(["reload"], 0, "", signalled);
    });
    await t.step("A33-A35 dns-override: the client's own helper is missing", async () => {
      await checkDnsHelperMissing(c, "cryptode");
    });
    await t.step("A36-A37 json status enable/disable are names, not SCRIPT_SECURITY", async () => {
      await expect(["json", "status", "enable"], 14, "{ }\n");
      await expect(["json", "status", "disable"], 14, "{ }\n");
      assert.doesNotMatch(agent.stderr(), /script security changed/);
    });
    await t.step("the agent ran through every SIGUSR1 and logged each request", () => {
      assert.equal(env.agent, agent);
      assert.doesNotMatch(agent.stderr(), /"msg":"stopping"/);
      assert.match(
        agent.stderr(),
        /"msg":"signal handled","signal":"SIGUSR1","services":\["cryptoded"\]/,
      );
      assert.match(
        agent.stderr(),
        /"msg":"request refused","dialect":"v1","cmd":3,"command":"status","code":14/,
      );
    });
  },
);
