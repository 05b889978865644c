/**
 * Real openvpn tunnels between two namespaces, driven through the agent's cryptoded socket:
 * auto-connect, CONNECT → CONNECTED, counters from traffic, RELOAD with a live tunnel, kill -9 of
 * the agent and re-adoption, DISCONNECT, pre-exec failure and timeout, connect timeout, forced
 * REMOVE, and SCRIPT_SECURITY reaching openvpn's command line.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { backendTest, sh, waitFor } from "../_helpers/mod.ts";
import { Cmd, type ConnectionStatus, Resp } from "../../lib/protocols/cryptoded/mod.ts";
import { agentEnv, ask, vpnLab, writeProfile } from "./_env.ts";

async function status(socket: string, name: string): Promise<ConnectionStatus> {
  const r = await ask(socket, Cmd.STATUS, name);
  assert.equal(r.code, Resp.OK, JSON.stringify(r));
  return r.data as ConnectionStatus;
}

function until(socket: string, name: string, want: (s: ConnectionStatus) => boolean, what: string) {
  return waitFor(async () => {
    const s = await status(socket, name);
    return want(s) ? s : null;
  }, { timeoutMs: 25_000, stepMs: 50, what });
}

/** True while the process exists and is not a zombie (/proc read with cat: see peercred). */
async function alive(pid: number): Promise<boolean> {
  const r = await sh(["cat", `/proc/${pid}/stat`], { check: false });
  return r.code === 0 && !/\) [ZX] /.test(r.stdout);
}

backendTest(
  "cryptoded drives real openvpn tunnels end to end",
  { tools: ["openvpn", "ip", "openssl", "ping", "ss"], root: true },
  async (t) => {
    await using lab = await vpnLab();
    await using env = await agentEnv({
      netns: lab.clientNs,
      connect_timeout: 5000,
      pre_exec_timeout: 1500,
    });
    const sock = env.socket;
    await writeProfile(env.profiles, "alpha", lab.profile());
    await writeProfile(env.profiles, "auto1", lab.profile(), { "auto-connect": true });
    await env.start();

    await t.step("auto-connect profiles connect when the service starts", async () => {
      const s = await until(sock, "auto1", (s) => s.status === "CONNECTED", "auto1 connected");
      assert.equal(s["auto-connect"], true);
      assert.equal(s["ovpn-status"], "CONNECTED");
      // one tunnel at a time in the client namespace, so traffic goes where the test expects
      assert.equal((await ask(sock, Cmd.DISCONNECT, "auto1")).code, Resp.OK);
      await until(sock, "auto1", (s) => s.status === "DISCONNECTED", "auto1 disconnected");
    });

    let connectedTime = 0;
    await t.step("CONNECT reaches CONNECTED and STATUS shows every field", async () => {
      const r = await ask(sock, Cmd.CONNECT, "alpha");
      assert.equal(r.code, Resp.OK);
      assert.equal((r.data as ConnectionStatus).status, "CONNECTING");
      const s = await until(sock, "alpha", (s) => s.status === "CONNECTED", "alpha connected");
      assert.equal(s.name, "alpha");
      assert.equal(s.profile, join(env.profiles, "alpha.ovpn"));
      assert.equal(s["ovpn-status"], "CONNECTED");
      assert.ok(s.timestamp > 1_700_000_000);
      assert.ok(s.network);
      assert.ok(s.network["connected-time"] > 1_700_000_000);
      for (const k of ["in-current", "out-current", "in-total", "out-total"] as const) {
        assert.equal(typeof s.network[k], "number");
      }
      connectedTime = s.network["connected-time"];
      const again = await ask(sock, Cmd.CONNECT, "alpha");
      assert.equal(again.code, Resp.CONN_ALREADY_CONNECTED);
    });

    await t.step("bytes sent through the tunnel show up in the counters", async () => {
      const before = (await status(sock, "alpha")).network!["in-current"];
      await sh([
        "ip",
        "netns",
        "exec",
        lab.clientNs,
        "ping",
        "-c",
        "5",
        "-i",
        "0.2",
        "-s",
        "1000",
        "-W",
        "2",
        lab.serverTunIp,
      ]);
      let last: ConnectionStatus | null = null;
      const s = await until(
        sock,
        "alpha",
        (s) => {
          last = s;
          return (s.network?.["in-current"] ?? 0) >= before + 5000 &&
            s["in-total"] >= before + 5000;
        },
        "counters to grow",
      ).catch((e) => {
        throw new Error(`${e.message}; before ${before}, last ${JSON.stringify(last)}`);
      });
      assert.ok(s.network!["out-current"] >= 5000);
    });

    await t.step(
      "an openvpn restart (SIGUSR1) goes RECONNECTING, re-holds, and comes back",
      async () => {
        const pid = Number(
          await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/alpha.pid")),
        );
        await sh(["kill", "-USR1", String(pid)]);
        const log = () => env.agent!.stderr();
        await waitFor(
          () =>
            /"name":"alpha","from":"CONNECTED","to":"RECONNECTING"/.test(log()) &&
            /"name":"alpha","from":"RECONNECTING","to":"CONNECTED"/.test(log()),
          { timeoutMs: 20_000, what: "RECONNECTING and back" },
        );
        const s = await until(sock, "alpha", (s) => s.status === "CONNECTED", "alpha connected");
        assert.ok(s.network!["connected-time"] >= connectedTime);
        connectedTime = s.network!["connected-time"];
      },
    );

    await t.step("REMOVE without force is refused while connected", async () => {
      const r = await ask(sock, Cmd.REMOVE, "alpha");
      assert.equal(r.code, Resp.CONN_IN_PROGRESS);
    });

    await t.step("RELOAD picks up a new profile while the tunnel stays up", async () => {
      const pid = Number(await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/alpha.pid")));
      await writeProfile(env.profiles, "beta", lab.profile());
      const r = await ask(sock, Cmd.RELOAD);
      assert.equal(r.code, Resp.OK);
      assert.deepEqual((r.data as { added: string[] }).added, ["beta"]);
      const s = await status(sock, "alpha");
      assert.equal(s.status, "CONNECTED");
      assert.equal(s.network!["connected-time"], connectedTime);
      assert.ok(await alive(pid));
      assert.equal((await status(sock, "beta")).status, "DISCONNECTED");
    });

    await t.step("SCRIPT_SECURITY is applied to openvpn's command line", async () => {
      assert.equal((await ask(sock, Cmd.SCRIPT_SECURITY, "enable")).code, Resp.OK);
      assert.equal((await ask(sock, Cmd.CONNECT, "beta")).code, Resp.OK);
      await until(sock, "beta", (s) => s.status === "CONNECTED", "beta connected");
      const pid = Number(await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/beta.pid")));
      const argv = (await sh(["cat", `/proc/${pid}/cmdline`])).stdout.split("\0");
      assert.equal(argv[argv.indexOf("--script-security") + 1], "2");
      assert.equal((await ask(sock, Cmd.SCRIPT_SECURITY, "disable")).code, Resp.OK);
      assert.equal((await ask(sock, Cmd.DISCONNECT, "beta")).code, Resp.OK);
      await until(sock, "beta", (s) => s.status === "DISCONNECTED", "beta disconnected");
    });

    await t.step("kill -9 of the agent and a restart re-adopt the live tunnel", async () => {
      const pid = Number(await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/alpha.pid")));
      const before = await status(sock, "alpha");
      await env.kill9();
      assert.ok(await alive(pid), "openvpn survives the agent");
      await env.start();
      const s = await status(sock, "alpha");
      assert.equal(s.status, "CONNECTED");
      assert.equal(s.network!["connected-time"], connectedTime);
      // openvpn's BYTECOUNT counts since it started (soft restarts included); the first one after
      // adoption may take an interval on a loaded machine
      await until(
        sock,
        "alpha",
        (x) => x.network!["in-current"] >= before.network!["in-current"],
        `counters to carry on from ${before.network!["in-current"]}`,
      );
      assert.ok(s.network!["in-current"] > 0);
      assert.equal(
        Number(await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/alpha.pid"))),
        pid,
      );
      // still driven by events after adoption: traffic moves the counters
      await sh([
        "ip",
        "netns",
        "exec",
        lab.clientNs,
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        lab.serverTunIp,
      ]);
      await until(
        sock,
        "alpha",
        (x) => x.network!["in-current"] > s.network!["in-current"],
        "counters after adoption",
      );
    });

    await t.step("a graceful agent restart leaves the tunnel up and re-adopts it", async () => {
      const pid = Number(await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/alpha.pid")));
      await env.agent!.stop("SIGTERM");
      env.agent = null;
      assert.ok(await alive(pid), "openvpn survives a clean agent stop");
      await env.start();
      const s = await status(sock, "alpha");
      assert.equal(s.status, "CONNECTED");
      assert.equal(s.network!["connected-time"], connectedTime);
    });

    await t.step("DISCONNECT stops openvpn and keeps the totals", async () => {
      const pid = Number(await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/alpha.pid")));
      const before = await status(sock, "alpha");
      const r = await ask(sock, Cmd.DISCONNECT, "alpha");
      assert.equal(r.code, Resp.OK);
      const s = await until(
        sock,
        "alpha",
        (s) => s.status === "DISCONNECTED",
        "alpha disconnected",
      );
      assert.equal(s.network, undefined);
      assert.ok(s["in-total"] >= before.network!["in-current"]);
      await waitFor(async () => !(await alive(pid)), { what: "openvpn to exit" });
      assert.equal((await ask(sock, Cmd.DISCONNECT, "alpha")).code, Resp.CONN_ALREADY_DISCONNECTED);
    });

    await t.step("a failing pre-exec command cancels the connect", async () => {
      await writeProfile(env.profiles, "pfail", lab.profile(), {
        "pre-connect-exec": "/bin/false",
      });
      assert.equal((await ask(sock, Cmd.RELOAD)).code, Resp.OK);
      assert.equal((await ask(sock, Cmd.CONNECT, "pfail")).code, Resp.OK);
      const s = await until(
        sock,
        "pfail",
        (s) => s.status === "DISCONNECTED" && s["pre-exec-status"] !== 0,
        "pre-exec failure",
      );
      assert.equal(s["pre-exec-status"], 1);
      assert.equal(s["pre-exec-cmd"], "/bin/false");
      assert.match(s["last-error"] ?? "", /pre-connect-exec/);
    });

    await t.step("a pre-exec command that hangs is killed at its timeout", async () => {
      await writeProfile(env.profiles, "phang", lab.profile(), {
        "pre-connect-exec": "/bin/sleep 60",
      });
      assert.equal((await ask(sock, Cmd.RELOAD)).code, Resp.OK);
      assert.equal((await ask(sock, Cmd.CONNECT, "phang")).code, Resp.OK);
      const during = await ask(sock, Cmd.CONNECT, "phang");
      assert.equal(during.code, Resp.CONN_IN_PROGRESS);
      const s = await until(sock, "phang", (s) => s.status === "DISCONNECTED", "pre-exec timeout");
      assert.equal(s["pre-exec-status"], 137);
      const left = await sh(["pgrep", "-f", "^/bin/sleep 60$"], { check: false });
      assert.equal(left.stdout.trim(), "", "the hung command was killed");
    });

    await t.step("an acknowledged CONNECT survives kill -9 of the agent mid-connect", async () => {
      await writeProfile(env.profiles, "slowpre", lab.profile(), {
        "pre-connect-exec": "/bin/sleep 1",
      });
      assert.equal((await ask(sock, Cmd.RELOAD)).code, Resp.OK);
      const r = await ask(sock, Cmd.CONNECT, "slowpre");
      assert.equal(r.code, Resp.OK);
      assert.equal((r.data as ConnectionStatus).status, "CONNECTING");
      await env.kill9(); // while its pre-connect command still runs
      await env.start();
      await waitFor(() => /resuming a connect interrupted by a restart/.test(env.agent!.stderr()), {
        what: "resume log line",
      });
      await until(sock, "slowpre", (s) => s.status === "CONNECTED", "slowpre connected");
      assert.equal((await ask(sock, Cmd.DISCONNECT, "slowpre")).code, Resp.OK);
      await until(sock, "slowpre", (s) => s.status === "DISCONNECTED", "slowpre disconnected");
    });

    await t.step("an openvpn that exits at once is reported with its log", async () => {
      await writeProfile(env.profiles, "broken", "client\nbogus-directive yes\n");
      assert.equal((await ask(sock, Cmd.RELOAD)).code, Resp.OK);
      assert.equal((await ask(sock, Cmd.CONNECT, "broken")).code, Resp.OK);
      const s = await until(
        sock,
        "broken",
        (s) => s.status === "DISCONNECTED" && !!s["last-error"],
        "broken profile reported",
      );
      assert.match(
        s["last-error"]!,
        /openvpn exited with status 1 before connecting: .*bogus-directive/,
      );
    });

    await t.step(
      "a connect that never reaches CONNECTED is stopped at connect_timeout",
      async () => {
        await writeProfile(env.profiles, "tout", lab.profile({ port: 1195 }));
        assert.equal((await ask(sock, Cmd.RELOAD)).code, Resp.OK);
        assert.equal((await ask(sock, Cmd.CONNECT, "tout")).code, Resp.OK);
        const s = await until(
          sock,
          "tout",
          (s) => s.status === "DISCONNECTED" && !!s["last-error"],
          "connect timeout",
        );
        assert.match(s["last-error"]!, /did not reach CONNECTED within 5000 ms/);
      },
    );

    await t.step("a forced REMOVE disconnects first, then deletes the profile", async () => {
      // RELOAD auto-connected it already (auto-connect applies after every RELOAD)
      const c = await ask(sock, Cmd.CONNECT, "auto1");
      assert.ok(
        [Resp.OK, Resp.CONN_ALREADY_CONNECTED, Resp.CONN_IN_PROGRESS].includes(c.code as 0),
      );
      await until(sock, "auto1", (s) => s.status === "CONNECTED", "auto1 connected");
      const pid = Number(await Deno.readTextFile(join(env.dir, "run/cryptoded-tunnels/auto1.pid")));
      const r = await ask(sock, Cmd.REMOVE, { name: "auto1", force: true });
      assert.equal(r.code, Resp.OK);
      assert.ok(!(await alive(pid)));
      await assert.rejects(Deno.stat(join(env.profiles, "auto1.ovpn")));
      assert.equal((await ask(sock, Cmd.STATUS, "auto1")).code, Resp.CONN_NOT_FOUND);
    });
  },
);
