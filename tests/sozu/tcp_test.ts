/**
 * TCP listeners and fronts through the real agent (command socket → workers): every order in
 * its 0.13 and 0.14 shapes with the consistency refusals, the proxy really forwarding with
 * `proxy_protocol: SEND_HEADER` and `expect_proxy`, LIST_FRONTENDS / QUERY / DUMP_STATE showing
 * them, and the state surviving kill -9 (automatic state) and SAVE_STATE → LOAD_STATE into a
 * fresh agent; `tcp_listeners` in the config file.
 */
import assert from "node:assert/strict";
import { parseProxyHeader } from "../../lib/backends/http_proxy/proxy_protocol.ts";
import { type ConfigStateJson, SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort, tempDir } from "../_helpers/mod.ts";
import { bytesOf, latin1 } from "../http_proxy/_helpers.ts";
import { roundTrip, roundTripText, startEofBackend } from "../http_proxy/_tcp.ts";
import { ctl, startAgent, writeAgentConfig } from "./_agent.ts";
import { ok, order } from "./_https.ts";

async function dump(c: SozuClient): Promise<ConfigStateJson> {
  const r = await c.request({ type: "DUMP_STATE" }, { timeoutMs: 10_000 });
  return r.data!.data as ConfigStateJson;
}

async function refusal(c: SozuClient, type: string, data: unknown, pattern: RegExp) {
  const r = await order(c, type, data);
  assert.equal(r.status, "ERROR", `${type} should be refused`);
  assert.match(r.message, pattern);
}

Deno.test("TCP orders through the command socket: forwarding, refusals, state", async () => {
  await using dir = await tempDir("sozu-tcp");
  await using be = startEofBackend("be");
  const port = freePort();
  const front = `127.0.0.1:${port}`;
  const configured = `127.0.0.1:${freePort()}`;
  const files = await writeAgentConfig(dir.path, [
    "worker_count = 2",
    `tcp_listeners = ["${configured}"]`,
  ]);
  {
    await using agent = await startAgent(files);
    const c = await SozuClient.connect(files.socket, 5000);
    await ok(c, "ADD_TCP_LISTENER", {
      front,
      expect_proxy: true,
      front_timeout: 20,
      back_timeout: 20,
      connect_timeout: 2,
    });
    await ok(c, "ACTIVATE_LISTENER", { front, proxy: "TCP", from_scm: false });
    await ok(c, "ADD_APPLICATION", { app_id: "tcp", proxy_protocol: "SEND_HEADER" });
    await ok(c, "ADD_BACKEND", { app_id: "tcp", backend_id: "b", address: be.address });
    await refusal(c, "ADD_TCP_FRONT", { app_id: "nope", address: front }, /does not exist/);
    await refusal(
      c,
      "ADD_TCP_FRONT",
      { app_id: "tcp", address: "127.0.0.1:9" },
      /no TCP listener at 127\.0\.0\.1:9/,
    );
    await ok(c, "ADD_TCP_FRONTEND", { cluster_id: "tcp", address: front, tags: null });
    await ok(c, "ADD_APPLICATION", { app_id: "other" });
    await refusal(c, "ADD_TCP_FRONT", { app_id: "other", address: front }, /already forwards/);
    await refusal(c, "ADD_HTTP_LISTENER", { front }, /TCP listener already exists/);
    await refusal(c, "REMOVE_LISTENER", { front, proxy: "tcp" }, /still has 1 front/);
    await refusal(c, "REMOVE_APPLICATION", "tcp", /still has 1 front/);
    await refusal(c, "ADD_TCP_LISTENER", { front: "nonsense" }, /data\.front/);

    const answer = await roundTrip(port, bytesOf("PROXY TCP4 192.168.7.7 127.0.0.1 1 2\r\nhi"));
    assert.match(latin1(answer), /hi$/);
    const got = be.received[0]!;
    const header = parseProxyHeader(got, got.length)!;
    assert.deepEqual(header.source, { ip: "192.168.7.7", port: 1 });
    assert.equal(latin1(got.subarray(header.length)), "hi");

    const list = await c.request({ type: "LIST_FRONTENDS", data: { tcp: true } }, {
      timeoutMs: 10_000,
    });
    assert.deepEqual(
      (list.data!.data as { tcp_frontends: unknown[] }).tcp_frontends,
      [{ app_id: "tcp", address: front }],
    );
    const state = await dump(c);
    assert.deepEqual(state.tcp_fronts, { tcp: [{ app_id: "tcp", address: front }] });
    assert.equal(state.tcp_listeners[front]?.[0].expect_proxy, true);
    assert.equal(state.tcp_listeners[configured]?.[1], true);
    const saved = await c.request({ type: "SAVE_STATE", data: { path: "tcp.state" } }, {
      timeoutMs: 10_000,
    });
    assert.equal(saved.status, "OK", saved.message);
    c.close();
    await agent.stop("SIGKILL");
  }
  {
    // The automatic state brings the listener, its front and the application back.
    await using agent = await startAgent(files);
    const answer = await roundTrip(port, bytesOf("PROXY TCP4 192.168.7.8 127.0.0.1 3 4\r\nagain"));
    assert.match(latin1(answer), /again$/);
    const c = await SozuClient.connect(files.socket, 5000);
    await ok(c, "REMOVE_TCP_FRONTEND", { cluster_id: "tcp", address: front });
    await refusal(c, "REMOVE_TCP_FRONT", { app_id: "tcp", address: front }, /no TCP front/);
    assert.equal(await roundTripText(port, "PROXY TCP4 1.2.3.4 127.0.0.1 1 2\r\nx"), "");
    // The same through `polyagent ctl sozu`: a second TCP listener with its front.
    const second = `127.0.0.1:${freePort()}`;
    const added = await ctl(files, ["listener", "add", second, "--tcp"]);
    assert.equal(added.code, 0, added.stderr);
    const fronted = await ctl(files, ["tcp-front", "add", "tcp", second]);
    assert.equal(fronted.code, 0, fronted.stderr);
    assert.equal((await dump(c)).tcp_listeners[second]?.[1], true);
    c.close();
    await agent.stop();
  }
  {
    // SAVE_STATE's file into a fresh agent (fresh state directory).
    await using fresh = await tempDir("sozu-tcp-load");
    const files2 = await writeAgentConfig(fresh.path);
    await Deno.mkdir(`${files2.stateDir}/sozu`, { recursive: true });
    await Deno.copyFile(`${files.stateDir}/sozu/tcp.state`, `${files2.stateDir}/sozu/tcp.state`);
    await using agent = await startAgent(files2);
    const c = await SozuClient.connect(files2.socket, 5000);
    const loaded = await c.request({ type: "LOAD_STATE", data: { path: "tcp.state" } }, {
      timeoutMs: 20_000,
    });
    assert.equal(loaded.status, "OK", loaded.message);
    const answer = await roundTrip(port, bytesOf("PROXY TCP4 192.168.7.9 127.0.0.1 5 6\r\nloaded"));
    assert.match(latin1(answer), /loaded$/);
    assert.deepEqual((await dump(c)).tcp_fronts, { tcp: [{ app_id: "tcp", address: front }] });
    c.close();
    await agent.stop();
  }
});
