/**
 * Backend health and events: the back-off and circuit breaker as pure logic (BackendHealth, the
 * EventMerger of several workers), then through a live proxy: backups while the primary refuses,
 * BACKEND_DOWN / BACKEND_UP once over two workers, a killed primary under load costs no request,
 * NO_AVAILABLE_BACKENDS once, REMOVED_BACKEND_HAS_NO_CONNECTIONS after the last exchange.
 */
import assert from "node:assert/strict";
import { BackendHealth, MAX_TRIES } from "../../lib/backends/http_proxy/backend_health.ts";
import { EventMerger } from "../../lib/backends/http_proxy/event_merger.ts";
import type { ProxyEvent } from "../../lib/backends/http_proxy/mod.ts";
import { freePort, waitFor } from "../_helpers/mod.ts";
import { closedPort, spread, startBalance } from "./_balance.ts";
import { rawExchange, startHttpBackend, statusLines } from "./_helpers.ts";

Deno.test("BackendHealth: random 1..2^n unit back-off, one failure per window, down at 6, up at once", () => {
  const once = new BackendHealth();
  once.failed(0, () => 0, 1000);
  assert.equal(once.succeeded(), "up", "a recovery is reported (the data plane filters it)");
  const h = new BackendHealth();
  const unit = 1000;
  let now = 10_000;
  const changes: (string | null)[] = [];
  for (let i = 0; i < MAX_TRIES; i++) {
    changes.push(h.failed(now, () => 0.999, unit));
    const wait = h.retryAt - now;
    assert.ok(wait >= unit && wait <= 2 ** i * unit, `failure ${i + 1}: waits ${wait} ms`);
    // a concurrent failure inside the window changes nothing
    assert.equal(h.failed(now + 1, () => 0.5, unit), null);
    now = h.retryAt;
  }
  assert.deepEqual(changes, [null, null, null, null, null, "down"]);
  assert.ok(h.down);
  assert.equal(h.failures, MAX_TRIES);
  // still down, back-off capped at 2^6 units
  h.failed(now, () => 0.999, unit);
  assert.ok(h.retryAt - now <= 64 * unit);
  assert.equal(h.succeeded(), "up");
  assert.equal(h.failures, 0);
  assert.equal(h.retryAt, 0);
  assert.equal(h.succeeded(), null);
});

Deno.test("BackendHealth: peak EWMA rises at once, decays over a second", () => {
  const h = new BackendHealth();
  h.sample(10, 1000);
  assert.equal(h.rtt, 50, "a faster sample in the same instant keeps the initial 50 ms");
  h.sample(200, 1100);
  assert.equal(h.rtt, 200, "a slower sample replaces it at once");
  h.active = 1;
  const cost = h.ewmaCost(2100);
  assert.ok(Math.abs(cost - 2 * 200 * Math.exp(-1)) < 1e-9, `cost ${cost}`);
});

Deno.test("EventMerger: one DOWN/UP per backend over workers, one NO_AVAILABLE until re-armed, REMOVED once all let go", () => {
  const out: ProxyEvent[] = [];
  const m = new EventMerger((e) => out.push(e));
  const b = { clusterId: "app", backendId: "b1", address: "127.0.0.1:1" };
  m.fromWorker({ type: "BACKEND_DOWN", ...b }, 0);
  m.fromWorker({ type: "BACKEND_DOWN", ...b }, 1);
  m.fromWorker({ type: "BACKEND_UP", ...b }, 1);
  m.fromWorker({ type: "BACKEND_UP", ...b }, 0);
  m.fromWorker({ type: "NO_AVAILABLE_BACKENDS", clusterId: "app" }, 0);
  m.fromWorker({ type: "NO_AVAILABLE_BACKENDS", clusterId: "app" }, 1);
  m.fromWorker({ type: "CLUSTER_AVAILABLE", clusterId: "app" }, 1);
  m.fromWorker({ type: "NO_AVAILABLE_BACKENDS", clusterId: "app" }, 0);
  m.removing("app", "b1", "127.0.0.1:1", [0, 1, 2]);
  m.fromWorker({ type: "REMOVED_BACKEND_HAS_NO_CONNECTIONS", ...b }, 0);
  m.workerGone(2);
  assert.equal(out.length, 4);
  m.fromWorker({ type: "REMOVED_BACKEND_HAS_NO_CONNECTIONS", ...b }, 1);
  assert.deepEqual(out.map((e) => `${e.type}@${e.workerId}`), [
    "BACKEND_DOWN@0",
    "BACKEND_UP@1",
    "NO_AVAILABLE_BACKENDS@0",
    "NO_AVAILABLE_BACKENDS@0",
    "REMOVED_BACKEND_HAS_NO_CONNECTIONS@1",
  ]);
});

Deno.test("backup serves while the primary refuses; one BACKEND_DOWN over 2 workers; BACKEND_UP when it returns", async () => {
  const primary = closedPort();
  await using set = await startBalance(
    [{ name: "primary", address: primary }, { name: "backup", backup: true }],
    "round_robin",
    { workerCount: 2, engine: { retryUnitMs: 20 } },
  );
  const downs = () => set.events.filter((e) => e.type === "BACKEND_DOWN").length;
  // New connections each time, so both workers (SO_REUSEPORT) see the primary refuse.
  const get = () =>
    rawExchange(set.proxy.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  const failed: string[] = [];
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const answer = await get();
    if (!answer.endsWith("backup")) failed.push(answer.slice(0, 40));
    if (downs() > 0) {
      // give the other worker time to reach its own 6th failure too
      for (let i = 0; i < 80; i++) await get();
      break;
    }
  }
  assert.deepEqual(failed, [], "every request answered by the backup");
  assert.equal(downs(), 1, JSON.stringify(set.events));
  const port = Number(primary.split(":")[1]);
  await using _back = Deno.serve(
    { hostname: "127.0.0.1", port, onListen() {} },
    () => new Response("primary"),
  );
  let answer = "";
  for (let i = 0; i < 2000 && !answer.endsWith("primary"); i++) {
    answer = await get();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(answer.endsWith("primary"), "the primary serves again after its back-off");
  await waitFor(() => set.events.some((e) => e.type === "BACKEND_UP"), { what: "BACKEND_UP" });
  // the other worker may still be in its back-off: the backup answers there meanwhile
  for (let i = 0; i < 40; i++) assert.match(await get(), /(primary|backup)$/);
  const kinds = set.events.map((e) => `${e.type} ${"backendId" in e ? e.backendId : ""}`);
  assert.deepEqual(kinds, ["BACKEND_DOWN primary", "BACKEND_UP primary"]);
});

Deno.test("a primary killed under load costs no request: the backup takes over", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL("./_backend_process.ts", import.meta.url).pathname,
      String(port),
      "primary",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.getReader();
    await reader.read(); // "ready"
    reader.releaseLock();
    await using set = await startBalance(
      [{ name: "primary", address: `127.0.0.1:${port}` }, { name: "backup", backup: true }],
      "round_robin",
      { workerCount: 2 },
    );
    let stop = false;
    const load = spread(set.proxy.port, Infinity, 32, () => stop);
    await new Promise((r) => setTimeout(r, 400));
    child.kill("SIGKILL");
    await child.status;
    await new Promise((r) => setTimeout(r, 600));
    stop = true;
    const out = await load;
    assert.equal(out.failed, 0, `failed: ${JSON.stringify(out.statuses)}`);
    assert.ok((out.counts.primary ?? 0) > 0 && (out.counts.backup ?? 0) > 0, JSON.stringify(out));
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already dead
    }
    await child.stdout.cancel().catch(() => {});
    await child.status;
  }
});

Deno.test("NO_AVAILABLE_BACKENDS once over 2 workers; REMOVED_BACKEND_HAS_NO_CONNECTIONS after the last exchange", async () => {
  const dead = closedPort();
  await using set = await startBalance(
    [{ name: "dead", address: dead }],
    "round_robin",
    { workerCount: 2, engine: { retryUnitMs: 5_000 } },
  );
  const get = () =>
    rawExchange(set.proxy.port, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  for (let i = 0; i < 30; i++) assert.deepEqual(statusLines(await get()), ["503"]);
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(set.events.map((e) => e.type), ["NO_AVAILABLE_BACKENDS"]);

  // A slow backend, removed while an exchange runs on it.
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  await using slow = startHttpBackend(async () => {
    await gate;
    return new Response("slow");
  });
  const order = { clusterId: "app", backendId: "slow", address: slow.address };
  await set.proxy.apply({
    op: "remove_backend",
    clusterId: "app",
    backendId: "dead",
    address: dead,
  });
  await set.proxy.apply({ op: "add_backend", backend: order });
  const inFlight = get();
  await waitFor(() => slow.requests === 1, { what: "the request to reach the slow backend" });
  set.events.length = 0;
  await set.proxy.apply({ op: "remove_backend", ...order });
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(set.events, [], "no event while an exchange holds the backend");
  release();
  assert.ok((await inFlight).endsWith("slow"), "the exchange in flight finishes");
  await waitFor(() => set.events.length > 0, { what: "REMOVED_BACKEND_HAS_NO_CONNECTIONS" });
  await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(
    (set.events as ProxyEvent[]).map((e) => ({ ...e, workerId: 0 })),
    [{ type: "REMOVED_BACKEND_HAS_NO_CONNECTIONS", ...order, workerId: 0 }],
  );
});
