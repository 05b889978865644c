/**
 * Balancing policies through a live proxy (real sockets, seeded randomness): round robin (plain
 * and smooth weighted), weighted random (uniform when all weights are 0), least_loaded by
 * connections and by peak-EWMA time, power_of_two; weight 0 never served beside a positive
 * weight; a live policy change applies to the next request; HTTPS listeners balance alike.
 */
import assert from "node:assert/strict";
import { backendTest } from "../_helpers/mod.ts";
import { startCa } from "../sozu/_certs.ts";
import { spread, startBalance } from "./_balance.ts";
import { startHttpBackend, startProxy } from "./_helpers.ts";
import { getOn, specOf, tlsConnect } from "./_tls.ts";

/** Asserts `n` lies within `expected ± 4 sigma` of a binomial count of `total` draws. */
function near(n: number | undefined, total: number, p: number, label: string): void {
  const mean = total * p;
  const sigma = Math.sqrt(total * p * (1 - p));
  const got = n ?? 0;
  assert.ok(
    Math.abs(got - mean) <= 4 * sigma,
    `${label}: ${got} not within ${mean.toFixed(0)} ± ${(4 * sigma).toFixed(0)}`,
  );
}

Deno.test("round_robin: equal weights take turns exactly; weights 1:3 (and 0) are honoured", async () => {
  await using set = await startBalance(
    [{ name: "a" }, { name: "b" }, { name: "c" }],
    "round_robin",
  );
  const even = await spread(set.proxy.port, 300);
  assert.deepEqual(even.counts, { a: 100, b: 100, c: 100 });
  await set.weight("a", 1);
  await set.weight("b", 3);
  await set.weight("c", 0);
  const weighted = await spread(set.proxy.port, 400);
  assert.equal(weighted.failed, 0);
  assert.deepEqual(weighted.counts, { a: 100, b: 300 });
});

Deno.test("random: weighted by weight (missing = 100), weight 0 never, all zero uniform", async () => {
  await using set = await startBalance(
    [{ name: "a" }, { name: "b", weight: 50 }, { name: "c", weight: 0 }],
    "random",
  );
  const total = 600;
  const weighted = await spread(set.proxy.port, total, 4);
  assert.equal(weighted.failed, 0);
  near(weighted.counts.a, total, 2 / 3, "a (100)");
  near(weighted.counts.b, total, 1 / 3, "b (50)");
  assert.equal(weighted.counts.c, undefined, "weight 0 is never picked");
  await set.weight("a", 0);
  await set.weight("b", 0);
  const uniform = await spread(set.proxy.port, total, 4);
  for (const name of ["a", "b", "c"]) near(uniform.counts[name], total, 1 / 3, name);
});

Deno.test("a live policy change applies to the next request", async () => {
  await using set = await startBalance(
    [{ name: "a" }, { name: "b", weight: 0 }],
    "round_robin",
  );
  // round robin with a weight-0 backend beside a positive one: only "a"
  assert.deepEqual((await spread(set.proxy.port, 20)).counts, { a: 20 });
  await set.weight("b", 100);
  await set.policy("random");
  const after = await spread(set.proxy.port, 200);
  near(after.counts.a, 200, 0.5, "a");
  near(after.counts.b, 200, 0.5, "b");
});

Deno.test("least_loaded (connections): a 10x slower backend gets few requests under load", async () => {
  await using set = await startBalance(
    [
      { name: "fast1", delayMs: 5 },
      { name: "fast2", delayMs: 5 },
      { name: "slow", delayMs: 50 },
      { name: "zero", weight: 0 },
    ],
    "least_loaded",
    { metric: "connections" },
  );
  const total = 240;
  const out = await spread(set.proxy.port, total, 8);
  assert.equal(out.failed, 0);
  assert.equal(out.counts.zero, undefined, "weight 0 is never picked");
  // Round robin would give it a third (80).
  assert.ok((out.counts.slow ?? 0) < total / 6, `slow got ${out.counts.slow} of ${total}`);
});

Deno.test("least_loaded (connection_time): peak EWMA keeps most requests off a slow backend", async () => {
  await using set = await startBalance(
    [{ name: "fast1" }, { name: "fast2" }, { name: "slow", delayMs: 40 }],
    "least_loaded",
    { metric: "connection_time" },
  );
  const total = 150;
  const out = await spread(set.proxy.port, total);
  assert.equal(out.failed, 0);
  assert.ok((out.counts.slow ?? 0) < total / 6, `slow got ${out.counts.slow} of ${total}`);
});

Deno.test("power_of_two: coin flip between the two cheapest; weight 0 never", async () => {
  await using set = await startBalance(
    [{ name: "a" }, { name: "b" }, { name: "c" }, { name: "zero", weight: 0 }],
    "power_of_two",
  );
  const total = 300;
  const out = await spread(set.proxy.port, total);
  assert.equal(out.failed, 0);
  assert.equal(out.counts.zero, undefined);
  for (const name of ["a", "b", "c"]) near(out.counts[name], total, 1 / 3, name);
});

backendTest(
  "HTTPS shares the balancing: smooth weighted round robin 1:3 and a backup over TLS",
  { tools: ["openssl"] },
  async () => {
    await using ca = await startCa();
    const cert = await ca.issue({ cn: "app.test" });
    await using a = startHttpBackend(() => new Response("a"));
    await using b = startHttpBackend(() => new Response("b"));
    await using backup = startHttpBackend(() => new Response("backup"));
    await using proxy = await startProxy({
      listener: { protocol: "https" },
      certificates: [specOf(cert, ["app.test"])],
    });
    await proxy.apply({ op: "add_cluster", cluster: { id: "app" } });
    const backends = [["a", a.address, 1], ["b", b.address, 3], ["backup", backup.address, 100]];
    for (const [backendId, address, weight] of backends as [string, string, number][]) {
      await proxy.apply({
        op: "add_backend",
        backend: { clusterId: "app", backendId, address, weight, backup: backendId === "backup" },
      });
    }
    await proxy.apply({
      op: "add_front",
      front: { listener: proxy.address, clusterId: "app", hostname: "app.test", pathBegin: "" },
    });
    const conn = await tlsConnect(proxy.port, "app.test", ca.caCertificate);
    try {
      const counts: Record<string, number> = {};
      for (let i = 0; i < 40; i++) {
        const name = (await getOn(conn, "app.test")).split("\r\n\r\n")[1]!;
        counts[name] = (counts[name] ?? 0) + 1;
      }
      assert.deepEqual(counts, { a: 10, b: 30 });
      await proxy.apply({
        op: "remove_backend",
        clusterId: "app",
        backendId: "a",
        address: a.address,
      });
      await proxy.apply({
        op: "remove_backend",
        clusterId: "app",
        backendId: "b",
        address: b.address,
      });
      assert.ok((await getOn(conn, "app.test")).endsWith("backup"));
    } finally {
      conn.close();
    }
  },
);
