/**
 * LOAD_STATE with a state file whose records come before what they need (a backend before its
 * application, a front before its listener), as sozu accepts; `worker_id` on an order reaches that
 * worker only (real data plane, two workers, real requests); a listener whose port another
 * process holds — even with SO_REUSEPORT — is refused naming the port.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import type { ConfigStateJson } from "../../lib/protocols/sozu/mod.ts";
import { freePort } from "../_helpers/mod.ts";
import { startHarness } from "./_harness.ts";
import { namedBackend } from "./_https.ts";
import { command, ok, order, request } from "./_v14.ts";

function records(orders: [string, unknown][]): string {
  return orders.map(([type, data], n) =>
    JSON.stringify({ id: `SAVE-${n}`, version: 0, type: "PROXY", data: { type, data } }) + "\n\0"
  ).join("");
}

Deno.test("LOAD_STATE accepts records before what they need, and names what never came", async () => {
  await using h = await startHarness();
  const c = await h.client();
  const dir = join(h.stateDir, "sozu");
  await Deno.mkdir(dir, { recursive: true });
  const listener = "127.0.0.1:18081";
  await Deno.writeTextFile(
    join(dir, "out_of_order.state"),
    records([
      ["ADD_BACKEND", { app_id: "web", backend_id: "b1", address: "127.0.0.1:9001" }],
      ["ADD_HTTP_FRONT", { app_id: "web", address: listener, hostname: "a.test", path_begin: "/" }],
      ["ADD_BACKEND", { cluster_id: "web", backend_id: "b2", address: "127.0.0.1:9002" }],
      ["ADD_CLUSTER", { cluster_id: "web" }],
      ["ADD_HTTP_LISTENER", { address: listener }],
    ]),
  );
  const loaded = await command(c, "LOAD_STATE", { path: "out_of_order.state" });
  assert.equal(loaded.message, "ok: 5 messages, error: 0");
  const dump = (await command(c, "DUMP_STATE")).data!.data as ConfigStateJson;
  assert.deepEqual(dump.backends.web!.map((b) => b.backend_id), ["b1", "b2"]);
  assert.equal(dump.http_fronts.web!.length, 1);
  assert.ok(dump.http_listeners[listener]);

  await Deno.writeTextFile(
    join(dir, "dangling.state"),
    records([
      ["ADD_BACKEND", { app_id: "ghost", backend_id: "g", address: "127.0.0.1:9003" }],
      ["ADD_APPLICATION", { app_id: "other" }],
    ]),
  );
  const r = await c.request({ type: "LOAD_STATE", data: { path: "dangling.state" } }, {
    timeoutMs: 15_000,
  });
  assert.equal(r.status, "ERROR");
  assert.match(r.message, /^ok: 1 messages, error: 1 \(first: record 1: .*"ghost" does not exist/);
  const after = (await command(c, "DUMP_STATE")).data!.data as ConfigStateJson;
  assert.equal(after.backends.ghost, undefined);
});

Deno.test("an order with worker_id reaches that worker only; the shared state is unchanged", async () => {
  await using backend = namedBackend("one");
  const port = freePort();
  const address = `127.0.0.1:${port}`;
  await using h = await startHarness({
    config: { worker_count: 2, listeners: [address] },
    plane: (o) => createDataPlane(o),
  });
  const c = await h.client();
  await ok(c, "ADD_APPLICATION", { app_id: "web" });
  await ok(c, "ADD_BACKEND", { app_id: "web", backend_id: "b", address: backend.address });
  const front = { app_id: "web", address, hostname: "w.test", path_begin: "/" };
  const targeted = await ok(c, "ADD_HTTP_FRONT", front, 1);
  assert.match(targeted.message, /applied by worker 1 only/);
  const statuses = new Set<number | undefined>();
  for (let i = 0; i < 40; i++) statuses.add((await request(port, "w.test"))?.status);
  // Connections spread over both workers: worker 1 routes, worker 0 has no such front.
  assert.deepEqual([...statuses].sort(), [200, 404]);
  const dump = await command(c, "DUMP_STATE");
  assert.deepEqual((dump.data!.data as ConfigStateJson).http_fronts, {});
  assert.match(dump.message, /worker 1: ADD_HTTP_FRONT/);
  const unknown = await order(c, "ADD_HTTP_FRONT", front, 99);
  assert.equal(unknown.status, "ERROR");
  assert.match(unknown.message, /worker 99 not found/);
  // The same order for every worker: now all of them route.
  await ok(c, "ADD_HTTP_FRONT", front);
  for (let i = 0; i < 20; i++) assert.equal((await request(port, "w.test"))?.status, 200);
  // A backend taken out of worker 0 only, then given back to it (the state always had it).
  const b = { app_id: "web", backend_id: "b", address: backend.address };
  await ok(c, "REMOVE_BACKEND", b, 0);
  const drained = new Set<number | undefined>();
  for (let i = 0; i < 40; i++) drained.add((await request(port, "w.test"))?.status);
  assert.deepEqual([...drained].sort(), [200, 503]);
  assert.match((await ok(c, "ADD_BACKEND", b, 0)).message, /applied by worker 0 only/);
  for (let i = 0; i < 20; i++) assert.equal((await request(port, "w.test"))?.status, 200);
});

/** Another process listening on `port` with SO_REUSEPORT; stop it with `await using`. */
async function foreignListener(port: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--unstable-net",
      `const l = Deno.listen({ hostname: "127.0.0.1", port: ${port}, reusePort: true });` +
      ` console.log("up"); for await (const conn of l) conn.close();`,
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  return {
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
      await child.status;
      await child.stdout.cancel().catch(() => {});
    },
  };
}

Deno.test("a listener never shares its port with another process, even one with SO_REUSEPORT", async () => {
  const port = freePort();
  const address = `127.0.0.1:${port}`;
  await using h = await startHarness({
    config: { worker_count: 2 },
    plane: (o) => createDataPlane(o),
  });
  const c = await h.client();
  await ok(c, "ADD_HTTP_LISTENER", { address });
  {
    await using _holder = await foreignListener(port);
    const refused = await order(c, "ACTIVATE_LISTENER", { address, proxy: "http" });
    assert.equal(refused.status, "ERROR");
    assert.match(refused.message, new RegExp(`port ${port} is already in use by another socket`));
    const dump = (await command(c, "DUMP_STATE")).data!.data as ConfigStateJson;
    assert.equal(dump.http_listeners[address]![1], false);
  }
  await ok(c, "ACTIVATE_LISTENER", { address, proxy: "http" });
  assert.equal((await request(port, "nothing.test"))?.status, 404);
});

Deno.test("the proxy does not start on a port another process holds", async () => {
  const port = freePort();
  await using _holder = await foreignListener(port);
  await assert.rejects(
    startHarness({
      config: { worker_count: 1, listeners: [`127.0.0.1:${port}`] },
      plane: (o) => createDataPlane(o),
    }),
    new RegExp(`port ${port} is already in use by another socket`),
  );
});
