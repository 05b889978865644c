/**
 * sozu's hot upgrade orders: UPGRADE_MAIN on the real agent (PROCESSING, then OK naming the
 * successor, on the connection the client opened to the old agent), and UPGRADE_WORKER on the
 * real data plane under load (no failed request, the new worker listed instead of the old one).
 */
import assert from "node:assert/strict";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { backendTest, freePort, waitFor } from "../_helpers/mod.ts";
import { startHarness } from "../sozu/_harness.ts";
import { dumpState, healthz } from "./_agent.ts";
import { startBackend, startLoad } from "./_load.ts";
import { proxiedAgent } from "./_proxied.ts";

Deno.test("UPGRADE_MAIN answers PROCESSING, then OK once the successor has taken over", async () => {
  await using agent = await proxiedAgent("upgrade-main");
  const { world, generations, state: before } = agent;
  const client = await SozuClient.connect(world.sozuSocket, 5000);
  const replies: { status: string; message: string }[] = [];
  try {
    const final = await client.request({ type: "UPGRADE_MAIN" }, {
      timeoutMs: 60_000,
      onReply: (r) => replies.push({ status: r.status, message: r.message }),
    });
    assert.equal(final.status, "OK", final.message);
    const m = /^new main process launched with pid (\d+), closing the old one$/.exec(final.message);
    assert.ok(m, final.message);
    const successor = Number(m[1]);
    generations.successors.push(successor);
    assert.equal(replies[0]?.status, "PROCESSING");
    assert.ok(replies.some((r) => /successor ready/.test(r.message)), JSON.stringify(replies));
    assert.equal(replies.at(-1)?.status, "OK");
    // the old agent answered on this connection; orders now go to the successor
    const late = await client.request({ type: "PROXY", data: { type: "STATUS" } }, {
      timeoutMs: 10_000,
    }).catch((error) => ({ status: "closed", message: String(error) }));
    assert.notEqual(late.status, "OK");
    assert.equal((await generations.first.child.status).code, 0);
    assert.equal((await healthz(world) as { agent: { pid: number } }).agent.pid, successor);
    assert.deepEqual(await dumpState(world), before);
  } finally {
    client.close();
  }
});

backendTest(
  "UPGRADE_WORKER under load: a fresh worker takes over without a failed request",
  { tools: ["sysctl"], root: true },
  async () => {
    await using backend = await startBackend();
    const port = freePort();
    await using h = await startHarness({
      config: { worker_count: 2, listeners: [`127.0.0.1:${port}`], drain_timeout_ms: 3000 },
      plane: (o) => createDataPlane({ ...o, migrateQueued: true }),
    });
    const c = await h.client();
    const order = async (type: string, data: unknown) => {
      const r = await c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 15_000 });
      assert.equal(r.status, "OK", `${type}: ${r.message}`);
    };
    await order("ADD_APPLICATION", { app_id: "web" });
    await order("ADD_HTTP_FRONT", {
      app_id: "web",
      address: `127.0.0.1:${port}`,
      hostname: "app.test",
    });
    await order("ADD_BACKEND", { app_id: "web", backend_id: "b", address: backend.address });
    const workers = async () => {
      const r = await c.request({ type: "LIST_WORKERS" }, { timeoutMs: 5000 });
      return (r.data as { data: { id: number; run_state: string }[] }).data;
    };
    assert.deepEqual((await workers()).map((w) => w.id), [0, 1]);
    const load = startLoad({ port, keepAlive: 8, fresh: 4 });
    let stats;
    try {
      await waitFor(() => load.stats.ok > 300, { what: "steady load", timeoutMs: 30_000 });
      const processing: string[] = [];
      const r = await c.request({ type: "UPGRADE_WORKER", data: 0 }, {
        timeoutMs: 30_000,
        onReply: (x) => x.status === "PROCESSING" && processing.push(x.message),
      });
      assert.equal(r.status, "OK", r.message);
      assert.equal(r.message, "worker 0 replaced by worker 2");
      assert.match(processing[0] ?? "", /launching a new worker to replace worker 0/);
      const okAfter = load.stats.ok;
      await waitFor(() => load.stats.ok > okAfter + 300, { what: "load after the upgrade" });
    } finally {
      stats = await load.stop();
    }
    assert.equal(stats.failed, 0, `failed requests: ${stats.errors.join(" | ")}`);
    assert.deepEqual((await workers()).map((w) => [w.id, w.run_state]), [
      [1, "RUNNING"],
      [2, "RUNNING"],
    ]);
    // an unknown worker and a malformed id are errors naming them
    const unknown = await c.request({ type: "UPGRADE_WORKER", data: 0 }, { timeoutMs: 5000 });
    assert.deepEqual([unknown.status, unknown.message], ["ERROR", "worker 0 not found"]);
    const bad = await c.request({ type: "UPGRADE_WORKER", data: "one" }, { timeoutMs: 5000 });
    assert.equal(bad.status, "ERROR");
    assert.match(bad.message, /^invalid UPGRADE_WORKER: data/);
  },
);
