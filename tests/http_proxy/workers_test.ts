/**
 * Proxy workers: several Web Workers share the listening port (reusePort), every order is applied
 * by every worker before `apply` resolves, `workers()` reports them, and a crashed worker is
 * replaced and re-fed the current state.
 */
import assert from "node:assert/strict";
import { waitFor } from "../_helpers/mod.ts";
import { WorkerFaults } from "./_faults.ts";
import { rawExchange, startHttpBackend, startProxy, statusLines } from "./_helpers.ts";

interface Stats {
  accepted: number;
  fronts: number;
}

async function burst(port: number, host: string, n: number): Promise<string[]> {
  const answers = await Promise.all(
    Array.from(
      { length: n },
      () => rawExchange(port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    ),
  );
  return answers.map((a) => statusLines(a).join(","));
}

Deno.test("two workers share the port and both apply every order before apply resolves", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  await using proxy = await startProxy({
    workerCount: 2,
    clusters: { app: [backend.address] },
    fronts: [["w.test", "", "app"]],
  });
  const workers = proxy.dp.workers();
  assert.equal(workers.length, 2);
  assert.deepEqual(workers.map((w) => w.runState), ["RUNNING", "RUNNING"]);
  assert.ok(workers.every((w) => w.pid === Deno.pid));
  assert.notEqual(workers[0]!.id, workers[1]!.id);

  assert.deepEqual(new Set(await burst(proxy.port, "w.test", 40)), new Set(["200"]));
  const stats = await proxy.dp.stats() as Stats[];
  assert.ok(stats.every((s) => s.accepted > 0), `connections spread: ${JSON.stringify(stats)}`);

  // A new front is live on every worker as soon as apply resolves.
  await proxy.apply({
    op: "add_front",
    front: { listener: proxy.address, clusterId: "app", hostname: "new.test", pathBegin: "" },
  });
  assert.deepEqual(new Set(await burst(proxy.port, "new.test", 40)), new Set(["200"]));
  // And a removed one is gone everywhere.
  await proxy.apply({
    op: "remove_front",
    front: { listener: proxy.address, clusterId: "app", hostname: "new.test", pathBegin: "" },
  });
  assert.deepEqual(new Set(await burst(proxy.port, "new.test", 40)), new Set(["404"]));
});

Deno.test("a crashed worker is replaced and re-fed the current state", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  const faults = new WorkerFaults();
  await using proxy = await startProxy({
    workerCount: 2,
    clusters: { app: [backend.address] },
    fronts: [["c.test", "", "app"]],
    faults,
  });
  const before = proxy.dp.workers().map((w) => w.id);
  faults.crash(before[0]!);
  const after = await waitFor(() => {
    const ids = proxy.dp.workers().map((w) => w.id);
    return ids.includes(before[0]!) ? null : ids;
  }, { what: "replacement worker" });
  assert.equal(after.length, 2);
  assert.equal(after[1], before[1]);
  // The replacement has the listener, the cluster, the backend and the front.
  const stats = await waitFor(async () => {
    const s = await proxy.dp.stats() as Stats[];
    return s.every((x) => x.fronts === 1) ? s : null;
  }, { what: "state re-fed" });
  assert.equal(stats.length, 2);
  assert.deepEqual(new Set(await burst(proxy.port, "c.test", 40)), new Set(["200"]));
  const spread = await proxy.dp.stats() as Stats[];
  assert.ok(spread[0]!.accepted > 0, "the replacement accepts connections");
  // Orders keep working after the replacement.
  await proxy.apply({ op: "remove_cluster", id: "app" });
  assert.deepEqual(new Set(await burst(proxy.port, "c.test", 10)), new Set(["503"]));
});

Deno.test("a listener that cannot bind makes apply reject on every worker", async () => {
  await using proxy = await startProxy({ workerCount: 2 });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const address = `127.0.0.1:${(taken.addr as Deno.NetAddr).port}`;
    await proxy.apply({ op: "add_listener", listener: { address, protocol: "http" } });
    await assert.rejects(
      () => proxy.dp.apply({ op: "activate_listener", address }),
      /cannot listen on "127\.0\.0\.1:\d+"/,
    );
    await assert.rejects(
      () => proxy.dp.apply({ op: "activate_listener", address: "127.0.0.1:1" }),
      /no listener at/,
    );
  } finally {
    taken.close();
  }
});

Deno.test("a worker that stops answering is marked, replaced, and the order still applies", async () => {
  await using backend = startHttpBackend(() => new Response("ok"));
  const faults = new WorkerFaults();
  await using proxy = await startProxy({
    workerCount: 2,
    orderTimeoutMs: 500,
    clusters: { app: [backend.address] },
    fronts: [["h.test", "", "app"]],
    faults,
  });
  const before = proxy.dp.workers().map((w) => w.id);
  faults.hang(before[0]!);
  // This order reaches a worker that never answers: it is replaced, re-fed, and the order
  // applied on the replacement before apply resolves.
  const applying = proxy.apply({
    op: "add_front",
    front: { listener: proxy.address, clusterId: "app", hostname: "late.test", pathBegin: "" },
  });
  await waitFor(() => proxy.dp.workers().some((w) => w.runState === "NOT_ANSWERING") || null, {
    what: "NOT_ANSWERING",
    timeoutMs: 3000,
  }).catch(() => {}); // the state may already have moved on
  await applying;
  const after = proxy.dp.workers();
  assert.ok(!after.some((w) => w.id === before[0]), "the hung worker was replaced");
  assert.deepEqual(after.map((w) => w.runState), ["RUNNING", "RUNNING"]);
  const stats = await proxy.dp.stats() as Stats[];
  assert.deepEqual(stats.map((x) => x.fronts), [2, 2], "the replacement has the whole state");
  // Not asserted: requests on the port. Deno 2.9.6's Worker.terminate() does not release the
  // resources of a worker stuck in a JS loop, so the hung worker's listening socket keeps its
  // SO_REUSEPORT share of new connections until the process restarts (see the report).
});
