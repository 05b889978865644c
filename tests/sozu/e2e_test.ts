/**
 * End to end through the real agent and the real data plane: orders over the command socket,
 * HTTP requests through the proxy to backends started here; blue/green; kill -9 and restart keeps
 * serving; soft stop lets an in-flight request finish, hard stop drops it.
 */
import assert from "node:assert/strict";
import { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort, tempDir, waitFor } from "../_helpers/mod.ts";
import { startAgent, writeAgentConfig } from "./_agent.ts";
import { request } from "./_v14.ts";

/** A backend answering its name after `delayMs`. */
function backend(name: string, delayMs = 0) {
  const port = freePort();
  const seen = { requests: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async () => {
    seen.requests++;
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    return new Response(name);
  });
  return {
    address: `127.0.0.1:${port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

const get = (port: number, host: string, path = "/") => request(port, host, path);

async function ok(c: SozuClient, type: string, data: unknown) {
  const r = await c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 15_000 });
  assert.equal(r.status, "OK", `${type}: ${r.message}`);
}

Deno.test("orders over the socket route real HTTP traffic, blue/green, and survive kill -9", async () => {
  await using dir = await tempDir("sozu-e2e");
  await using blue = backend("blue");
  await using green = backend("green");
  const port = freePort();
  const listener = `127.0.0.1:${port}`;
  const files = await writeAgentConfig(dir.path);
  {
    await using agent = await startAgent(files);
    const c = await SozuClient.connect(files.socket, 5000);
    await ok(c, "ADD_HTTP_LISTENER", { front: listener });
    await ok(c, "ACTIVATE_LISTENER", { front: listener, proxy: "http", from_scm: false });
    await ok(c, "ADD_APPLICATION", { app_id: "web" });
    await ok(c, "ADD_HTTP_FRONT", {
      app_id: "web",
      address: listener,
      hostname: "app.test",
      path_begin: "/",
    });
    await ok(c, "ADD_BACKEND", { app_id: "web", backend_id: "blue", address: blue.address });
    assert.deepEqual(await get(port, "app.test"), { status: 200, body: "blue" });
    assert.equal((await get(port, "other.test"))?.status, 404);
    // blue/green: add green, remove blue
    await ok(c, "ADD_BACKEND", { app_id: "web", backend_id: "green", address: green.address });
    await ok(c, "REMOVE_BACKEND", { app_id: "web", backend_id: "blue", address: blue.address });
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(await get(port, "app.test"), { status: 200, body: "green" });
    }
    c.close();
    await agent.stop("SIGKILL");
  }
  {
    await using agent = await startAgent(files);
    assert.deepEqual(await get(port, "app.test"), { status: 200, body: "green" });
    await agent.stop();
  }
});

Deno.test("SOFT_STOP lets an in-flight request finish; HARD_STOP drops it", async () => {
  for (const hard of [false, true]) {
    await using dir = await tempDir("sozu-stop");
    await using slow = backend("slow", 800);
    const port = freePort();
    const files = await writeAgentConfig(dir.path, [`listeners = ["127.0.0.1:${port}"]`]);
    await using agent = await startAgent(files);
    const c = await SozuClient.connect(files.socket, 5000);
    await ok(c, "ADD_APPLICATION", { app_id: "web" });
    await ok(c, "ADD_HTTP_FRONT", {
      app_id: "web",
      address: `127.0.0.1:${port}`,
      hostname: "app.test",
    });
    await ok(c, "ADD_BACKEND", { app_id: "web", backend_id: "slow", address: slow.address });
    const inFlight = get(port, "app.test");
    await waitFor(() => slow.seen.requests > 0, { what: "the request at the backend" });
    const statuses: string[] = [];
    const reply = await c.request(
      { type: "PROXY", data: { type: hard ? "HARD_STOP" : "SOFT_STOP" } },
      { timeoutMs: 15_000, onReply: (r) => statuses.push(r.status) },
    );
    assert.equal(reply.status, "OK");
    const answer = await inFlight;
    if (hard) {
      assert.equal(answer, null, "hard stop drops the in-flight request");
    } else {
      assert.deepEqual(statuses, ["PROCESSING", "OK"]);
      assert.deepEqual(answer, { status: 200, body: "slow" });
    }
    c.close();
    // the agent is still alive; the proxy port is closed
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port }));
    assert.equal((await agent.stop()).signal, null);
  }
});
