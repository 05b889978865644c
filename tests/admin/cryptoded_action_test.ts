/**
 * The status page's "Disconnect" action on a real openvpn tunnel: the page shows the connected
 * tunnel with its counters, and the confirmed, same-origin POST runs cryptoded's DISCONNECT
 * handler (the tunnel goes down) and is logged.
 */
import assert from "node:assert/strict";
import { backendTest, freePort, waitFor } from "../_helpers/mod.ts";
import { Cmd, type ConnectionStatus, Resp } from "../../lib/protocols/cryptoded/mod.ts";
import { agentEnv, ask, vpnLab, writeProfile } from "../cryptoded/_env.ts";

async function tunnelState(socket: string): Promise<string> {
  const r = await ask(socket, Cmd.STATUS, "alpha");
  assert.equal(r.code, Resp.OK, JSON.stringify(r));
  return (r.data as ConnectionStatus).status;
}

backendTest(
  "status page: Disconnect runs cryptoded's DISCONNECT on a live tunnel",
  { tools: ["openvpn", "ip", "openssl"], root: true },
  async () => {
    await using lab = await vpnLab();
    await using env = await agentEnv({ netns: lab.clientNs, connect_timeout: 10_000 });
    const port = freePort();
    const toml = await Deno.readTextFile(env.configFile);
    await Deno.writeTextFile(
      env.configFile,
      toml.replace(
        "[admin]\nenabled = false",
        `[admin]\nlisten = "127.0.0.1:${port}"\nactions = true`,
      ),
    );
    await writeProfile(env.profiles, "alpha", lab.profile());
    await env.start();
    const base = `http://127.0.0.1:${port}`;
    assert.equal((await ask(env.socket, Cmd.CONNECT, "alpha")).code, Resp.OK);
    await waitFor(async () => await tunnelState(env.socket) === "CONNECTED", {
      timeoutMs: 25_000,
      what: "alpha connected",
    });
    const page = await waitFor(async () => {
      const html = await (await fetch(`${base}/status`)).text();
      return html.includes(">connected</span>") ? html : null;
    }, { what: "the page showing alpha connected" });
    const link = /<a class="button" href="([^"]+)">Disconnect<\/a>/.exec(page)![1]!
      .replaceAll("&amp;", "&");
    const confirm = await (await fetch(`${base}${link}`)).text();
    const csrf = /name="csrf" value="([0-9a-f]{64})"/.exec(confirm)![1]!;
    const res = await fetch(`${base}/status/actions`, {
      method: "POST",
      headers: { origin: base },
      body: new URLSearchParams({
        service: "cryptoded",
        action: "disconnect",
        target: "alpha",
        csrf,
      }),
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /tunnel alpha is disconnecting/);
    await waitFor(async () => await tunnelState(env.socket) === "DISCONNECTED", {
      timeoutMs: 15_000,
      what: "alpha disconnected",
    });
    const logged = await waitFor(() => env.agent!.stderr().includes('"msg":"status page action"'));
    assert.ok(logged);
  },
);
