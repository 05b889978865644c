/**
 * SUBSCRIBE_EVENTS through the real command socket with the real data plane (two workers): a
 * raw subscriber sees BACKEND_DOWN / BACKEND_UP once each while the backup serves every request,
 * REMOVED_BACKEND_HAS_NO_CONNECTIONS and NO_AVAILABLE_BACKENDS, in sozu's reply shape; its
 * subscription ends with its connection; a subscriber that never reads loses events (counted)
 * instead of holding anything up. Also: the policy and weights of sozu orders reach the proxy.
 */
import assert from "node:assert/strict";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import { nulFramer } from "../../lib/core/mod.ts";
import { type ReplyStream, SozuEventHub } from "../../lib/protocols/sozu/events.ts";
import type { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort, waitFor } from "../_helpers/mod.ts";
import { rawExchange } from "../http_proxy/_helpers.ts";
import { startHarness } from "./_harness.ts";
import { ok } from "./_https.ts";

function get(port: number): Promise<string> {
  return rawExchange(port, "GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n");
}

/** A raw command-socket connection subscribed to events; `frames` fills as they arrive. */
async function subscribe(socket: string) {
  const conn = await Deno.connect({ transport: "unix", path: socket });
  await conn.write(
    new TextEncoder().encode(JSON.stringify({ id: "sub", version: 0, type: "SUBSCRIBE_EVENTS" })),
  );
  await conn.write(new Uint8Array([0]));
  const frames: Record<string, unknown>[] = [];
  const framer = nulFramer(1 << 20);
  const reading = (async () => {
    try {
      for await (const chunk of conn.readable) {
        for (const e of framer.push(chunk)) {
          if (e.kind === "frame") frames.push(JSON.parse(new TextDecoder().decode(e.data)));
        }
      }
    } catch {
      // closed
    }
  })();
  return {
    frames,
    types: () => frames.map((f) => (f.data as { data: { type: string } }).data.type),
    async close() {
      conn.close();
      await reading;
    },
  };
}

/** Application "web" (with `settings`) and its front app.test on the listener at `port`. */
async function webApplication(c: SozuClient, port: number, settings: Record<string, unknown>) {
  const orders: [string, Record<string, unknown>][] = [
    ["ADD_APPLICATION", { app_id: "web", ...settings }],
    ["ADD_HTTP_FRONT", { app_id: "web", address: `127.0.0.1:${port}`, hostname: "app.test" }],
  ];
  for (const [type, data] of orders) await ok(c, type, data);
}

function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("SUBSCRIBE_EVENTS: BACKEND_DOWN/UP once over 2 workers, REMOVED_…, NO_AVAILABLE_…, sozu's shape", async () => {
  const port = freePort();
  const primaryPort = closedPort();
  const primary = `127.0.0.1:${primaryPort}`;
  await using backup = Deno.serve(
    { hostname: "127.0.0.1", port: freePort(), onListen() {} },
    () => new Response("backup"),
  );
  await using h = await startHarness({
    config: { worker_count: 2, listeners: [`127.0.0.1:${port}`] },
    plane: (o) => createDataPlane({ ...o, engine: { retryUnitMs: 20, seed: 7, tickMs: 20 } }),
  });
  const sub = await subscribe(h.socket);
  const c = await h.client();
  await webApplication(c, port, {});
  await ok(c, "ADD_BACKEND", { app_id: "web", backend_id: "primary", address: primary });
  await ok(c, "ADD_BACKEND", {
    app_id: "web",
    backend_id: "backup",
    address: `127.0.0.1:${backup.addr.port}`,
    backup: true,
  });
  await waitFor(() => h.service.metrics().includes("polyagent_sozu_event_subscribers 1"), {
    timeoutMs: 5000,
  });

  const answers: string[] = [];
  while (!sub.types().includes("BACKEND_DOWN") && answers.length < 5000) {
    answers.push(await get(port));
  }
  for (let i = 0; i < 60; i++) answers.push(await get(port));
  assert.ok(answers.every((a) => a.endsWith("backup")), "the backup answers every request");
  assert.deepEqual(sub.frames, [{
    id: "EVENT",
    version: 0,
    status: "PROCESSING",
    message: sub.frames[0]!.message,
    data: { type: "EVENT", data: { type: "BACKEND_DOWN", data: ["primary", primary] } },
  }]);
  assert.match(String(sub.frames[0]!.message), /^[0-9]+$/, "message = the worker id");

  await using _primary = Deno.serve(
    { hostname: "127.0.0.1", port: primaryPort, onListen() {} },
    () => new Response("primary"),
  );
  for (let i = 0; i < 3000 && !sub.types().includes("BACKEND_UP"); i++) {
    assert.match(await get(port), /(primary|backup)$/);
  }
  assert.deepEqual(sub.types(), ["BACKEND_DOWN", "BACKEND_UP"]);

  await ok(c, "REMOVE_BACKEND", { app_id: "web", backend_id: "primary", address: primary });
  await waitFor(() => sub.frames.length === 3, { timeoutMs: 5000 });
  assert.deepEqual(sub.frames[2]!.data, {
    type: "EVENT",
    data: { type: "REMOVED_BACKEND_HAS_NO_CONNECTIONS", data: ["primary", primary] },
  });
  await ok(c, "REMOVE_BACKEND", {
    app_id: "web",
    backend_id: "backup",
    address: `127.0.0.1:${backup.addr.port}`,
  });
  for (let i = 0; i < 10; i++) assert.match(await get(port), /^HTTP\/1\.1 503/);
  await waitFor(() => sub.types().includes("NO_AVAILABLE_BACKENDS"), { timeoutMs: 5000 });
  assert.deepEqual(sub.frames.at(-1)!.data, {
    type: "EVENT",
    data: { type: "NO_AVAILABLE_BACKENDS", data: "web" },
  });
  assert.equal(sub.types().filter((t) => t === "NO_AVAILABLE_BACKENDS").length, 1);
  await sub.close();
  await waitFor(() => h.service.metrics().includes("polyagent_sozu_event_subscribers 0"), {
    timeoutMs: 5000,
  });
});

Deno.test("SozuEventHub: a subscriber that never reads gets at most maxQueued events, the rest are counted as dropped", async () => {
  const hub = new SozuEventHub(3);
  let closed: (() => void) | null = null;
  let keptOpen = 0;
  const stuck: ReplyStream = {
    send: () => new Promise(() => {}),
    onClose: (fn) => closed = fn,
    keepOpen: () => keptOpen++,
  };
  const got: unknown[] = [];
  const reader: ReplyStream = {
    send: (r) => {
      got.push(r);
      return Promise.resolve();
    },
    onClose: () => {},
    keepOpen: () => keptOpen++,
  };
  hub.subscribe(stuck);
  hub.subscribe(reader);
  // A subscriber is exempt from the listener's idle timeout (events may be hours apart).
  assert.equal(keptOpen, 2);
  for (let i = 0; i < 10; i++) {
    hub.publish({ type: "NO_AVAILABLE_BACKENDS", clusterId: `app${i}`, workerId: 0 });
    await new Promise((r) => setTimeout(r, 0)); // events come in separate worker messages
  }
  assert.equal(got.length, 10);
  assert.equal(hub.dropped, 7);
  assert.match(hub.metrics(), /polyagent_sozu_events_total\{outcome="dropped"\} 7/);
  closed!();
  assert.equal(hub.subscribers, 1);
});

Deno.test("sozu orders carry the policy, load_metric and weights to the proxy", async () => {
  const port = freePort();
  const names = ["a", "b", "zero"];
  const servers = names.map((name) =>
    Deno.serve({ hostname: "127.0.0.1", port: freePort(), onListen() {} }, () => new Response(name))
  );
  try {
    await using h = await startHarness({
      config: { worker_count: 1, listeners: [`127.0.0.1:${port}`] },
      plane: (o) => createDataPlane({ ...o, engine: { seed: 3 } }),
    });
    const c = await h.client();
    await webApplication(c, port, { load_balancing: "round_robin" });
    const weights = [1, 3, 0];
    for (const [i, name] of names.entries()) {
      await ok(c, "ADD_BACKEND", {
        app_id: "web",
        backend_id: name,
        address: `127.0.0.1:${servers[i]!.addr.port}`,
        load_balancing_parameters: { weight: weights[i] },
      });
    }
    const count = async (n: number) => {
      const seen: Record<string, number> = {};
      for (let i = 0; i < n; i++) {
        const name = (await get(port)).split("\r\n\r\n")[1]!;
        seen[name] = (seen[name] ?? 0) + 1;
      }
      return seen;
    };
    assert.deepEqual(await count(40), { a: 10, b: 30 });
    await ok(c, "ADD_APPLICATION", {
      app_id: "web",
      load_balancing: "least_loaded",
      load_metric: "connection_time",
    });
    const state = await c.request({ type: "DUMP_STATE" }, { timeoutMs: 5000 });
    assert.match(JSON.stringify(state.data), /"load_metric":"connection_time"/);
    assert.equal((await count(30)).zero, undefined, "weight 0 is never picked");
  } finally {
    for (const s of servers) await s.shutdown();
  }
});
