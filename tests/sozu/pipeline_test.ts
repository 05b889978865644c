/**
 * Many requests in flight on one connection and on many connections; durable writes before OK;
 * PROCESSING for slow work; restart restores everything.
 */
import assert from "node:assert/strict";
import type { ProxyOrder } from "../../lib/backends/http_proxy/mod.ts";
import type { CommandResponse } from "../../lib/protocols/sozu/mod.ts";
import { tempDir } from "../_helpers/mod.ts";
import { startHarness } from "./_harness.ts";
import { MemoryDataPlane } from "./_memory_plane.ts";

function backend(i: number) {
  return {
    type: "PROXY",
    data: {
      type: "ADD_BACKEND",
      data: { app_id: "app", backend_id: `b${i}`, address: `127.0.0.1:${10000 + i}` },
    },
  };
}

Deno.test("pipelined orders on one connection are all answered by id and all durable", async () => {
  await using h = await startHarness();
  const c = await h.client();
  await c.request(
    { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: "app" } } },
    { timeoutMs: 5000 },
  );
  const replies = await Promise.all(
    Array.from(
      { length: 2000 },
      (_, i) => c.send({ id: `o${i}`, version: 0, ...backend(i) }, { timeoutMs: 20_000 }),
    ),
  );
  replies.forEach((r, i) => {
    assert.equal(r.id, `o${i}`);
    assert.equal(r.status, "OK", r.message);
  });
  // every acknowledged order is in the document on disk
  const saved = JSON.parse(await Deno.readTextFile(`${h.stateDir}/sozu.json`));
  assert.equal(saved.version, 2);
  assert.equal(saved.data.backends.length, 2000);
});

Deno.test("many clients at once each get their own replies", async () => {
  await using h = await startHarness();
  const first = await h.client();
  await first.request(
    { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: "app" } } },
    { timeoutMs: 5000 },
  );
  const clients = await Promise.all(Array.from({ length: 20 }, () => h.client()));
  const all = await Promise.all(
    clients.map((c, k) =>
      Promise.all(Array.from({ length: 25 }, (_, j) => {
        const i = k * 25 + j;
        return c.send({ id: `same-id-${j}`, version: 0, ...backend(i) }, { timeoutMs: 20_000 });
      }))
    ),
  );
  assert.equal(all.flat().filter((r: CommandResponse) => r.status === "OK").length, 500);
  const d = await first.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  assert.equal((d.data?.data as { backends: { app: unknown[] } }).backends.app.length, 500);
});

Deno.test("a slow order gets PROCESSING, then OK", async () => {
  class SlowPlane extends MemoryDataPlane {
    override async apply(order: ProxyOrder): Promise<void> {
      if (order.op === "activate_listener") await new Promise((r) => setTimeout(r, 150));
      return super.apply(order);
    }
  }
  await using h = await startHarness({
    config: { processing_after_ms: 20 },
    plane: (o) => new SlowPlane(1, o.currentOrders),
  });
  const c = await h.client();
  await c.request(
    { type: "PROXY", data: { type: "ADD_HTTP_LISTENER", data: { front: "127.0.0.1:18090" } } },
    { timeoutMs: 5000 },
  );
  const statuses: string[] = [];
  const r = await c.request(
    {
      type: "PROXY",
      data: { type: "ACTIVATE_LISTENER", data: { front: "127.0.0.1:18090", proxy: "http" } },
    },
    { timeoutMs: 5000, onReply: (x) => statuses.push(x.status) },
  );
  assert.equal(r.status, "OK");
  assert.deepEqual(statuses, ["PROCESSING", "OK"]);
});

Deno.test("a listener that cannot bind is refused and the state keeps it inactive", async () => {
  const plane = (o: { currentOrders: () => ProxyOrder[] }) => {
    const p = new MemoryDataPlane(1, o.currentOrders);
    p.fail = (o) => o.op === "activate_listener" ? new Error("Address already in use") : null;
    return p;
  };
  await using h = await startHarness({ plane });
  const c = await h.client();
  await c.request(
    { type: "PROXY", data: { type: "ADD_HTTP_LISTENER", data: { front: "127.0.0.1:18091" } } },
    { timeoutMs: 5000 },
  );
  const r = await c.request(
    {
      type: "PROXY",
      data: { type: "ACTIVATE_LISTENER", data: { front: "127.0.0.1:18091", proxy: "http" } },
    },
    { timeoutMs: 5000 },
  );
  assert.equal(r.status, "ERROR");
  assert.match(r.message, /Address already in use/);
  const d = await c.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  assert.equal(
    (d.data?.data as { http_listeners: Record<string, [unknown, boolean]> })
      .http_listeners["127.0.0.1:18091"]?.[1],
    false,
  );
});

Deno.test("a restart restores every listener, application, front and backend", async () => {
  await using dir = await tempDir("sozu-restart");
  await using h = await startHarness({ dir: dir.path, config: { listeners: ["127.0.0.1:18092"] } });
  const c = await h.client();
  for (
    const [type, data] of [
      ["ADD_HTTP_LISTENER", { front: "127.0.0.1:18093" }],
      ["ACTIVATE_LISTENER", { front: "127.0.0.1:18093", proxy: "http" }],
      ["ADD_APPLICATION", { app_id: "app" }],
      ["ADD_HTTP_FRONT", {
        app_id: "app",
        address: "127.0.0.1:18093",
        hostname: "*.example.com",
        path_begin: "/x",
      }],
      ["ADD_BACKEND", { app_id: "app", backend_id: "b", address: "127.0.0.1:9000" }],
    ] as const
  ) {
    const r = await c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 5000 });
    assert.equal(r.status, "OK", r.message);
  }
  const before = await c.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  await h.restart();
  const c2 = await h.client();
  const after = await c2.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  assert.deepEqual(after.data, before.data);
  const ops = (h.plane as MemoryDataPlane).orders.map((o) => o.op);
  assert.deepEqual(ops, [
    "add_listener",
    "add_listener",
    "add_cluster",
    "add_front",
    "add_backend",
    "activate_listener",
    "activate_listener",
  ]);
});

Deno.test("with automatic_state_save off nothing is written or restored", async () => {
  await using dir = await tempDir("sozu-nosave");
  await using h = await startHarness({ dir: dir.path, config: { automatic_state_save: false } });
  const c = await h.client();
  await c.request(
    { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: "app" } } },
    { timeoutMs: 5000 },
  );
  await assert.rejects(Deno.stat(`${h.stateDir}/sozu.json`), Deno.errors.NotFound);
  await h.restart();
  const d = await (await h.client()).request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  assert.deepEqual((d.data?.data as { applications: object }).applications, {});
});

Deno.test("the command socket is mode 0600", async () => {
  await using h = await startHarness();
  const info = await Deno.stat(h.socket);
  assert.equal(info.mode! & 0o777, 0o600);
});

Deno.test("orders queued behind a soft stop are refused, not applied", async () => {
  class DrainingPlane extends MemoryDataPlane {
    override async softStop(): Promise<void> {
      await new Promise((r) => setTimeout(r, 100));
      await super.softStop();
    }
    override apply(order: ProxyOrder): Promise<void> {
      if (this.workers()[0]?.runState === "STOPPED") {
        return Promise.reject(new Error("the proxy is stopping"));
      }
      return super.apply(order);
    }
  }
  await using h = await startHarness({ plane: (o) => new DrainingPlane(1, o.currentOrders) });
  const c = await h.client();
  const stop = c.request({ type: "PROXY", data: { type: "SOFT_STOP" } }, { timeoutMs: 5000 });
  const late = c.request(
    { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: "late" } } },
    { timeoutMs: 5000 },
  );
  assert.equal((await stop).status, "OK");
  const r = await late.catch((e) => ({ status: "closed", message: String(e) }));
  assert.notEqual(r.status, "OK");
  assert.deepEqual(h.failures, [], "no crash reported to the supervisor");
  assert.deepEqual(h.stoppedReasons, ["SOFT_STOP"]);
});

Deno.test("when the state cannot be written the reply says so and the service keeps running", async () => {
  await using h = await startHarness();
  const c = await h.client();
  // make the state directory unwritable for the atomic rename (a directory in the file's place)
  await Deno.remove(`${h.stateDir}/sozu.json`).catch(() => {});
  await Deno.mkdir(`${h.stateDir}/sozu.json/blocker`, { recursive: true });
  const r = await c.request(
    { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: "app" } } },
    { timeoutMs: 5000 },
  );
  assert.equal(r.status, "ERROR");
  assert.match(r.message, /applied but the state could not be saved/);
  await Deno.remove(`${h.stateDir}/sozu.json`, { recursive: true });
  const next = await c.request(
    { type: "PROXY", data: { type: "ADD_APPLICATION", data: { app_id: "other" } } },
    { timeoutMs: 5000 },
  );
  assert.equal(next.status, "OK");
  const saved = JSON.parse(await Deno.readTextFile(`${h.stateDir}/sozu.json`));
  assert.deepEqual(
    saved.data.applications.map((a: { app_id: string }) => a.app_id).sort(),
    ["app", "other"],
  );
  assert.deepEqual(h.failures, []);
});

Deno.test("a version 1 state document (the DUMP_STATE form) is still restored", async () => {
  await using dir = await tempDir("sozu-v1");
  await Deno.mkdir(`${dir.path}/state`, { recursive: true });
  const dump = {
    applications: { app: { app_id: "app" } },
    backends: { app: [{ app_id: "app", backend_id: "b", address: "127.0.0.1:9000" }] },
    http_listeners: { "127.0.0.1:18094": [{ front: "127.0.0.1:18094" }, true] },
    https_listeners: {},
    http_fronts: {
      app: [{ app_id: "app", address: "127.0.0.1:18094", hostname: "a.test", path_begin: "" }],
    },
    https_fronts: {},
    certificates: {},
  };
  await Deno.writeTextFile(
    `${dir.path}/state/sozu.json`,
    JSON.stringify({ version: 1, savedAt: new Date().toISOString(), data: dump }),
  );
  await using h = await startHarness({ dir: dir.path });
  const c = await h.client();
  const d = await c.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
  const state = d.data?.data as {
    http_fronts: Record<string, unknown[]>;
    backends: Record<string, unknown[]>;
  };
  assert.equal(state.http_fronts["app"]?.length, 1);
  assert.equal(state.backends["app"]?.length, 1);
});
