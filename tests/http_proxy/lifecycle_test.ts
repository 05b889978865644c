/**
 * Orders under load and stopping: blue/green (add backend B, remove A while a load generator
 * runs → zero failed requests), soft stop (in-flight finishes, idle keep-alive closes at once,
 * nothing new accepted) versus hard stop (in-flight dropped).
 */
import assert from "node:assert/strict";
import { waitFor } from "../_helpers/mod.ts";
import { rawExchange, startHttpBackend, startProxy, startRawBackend } from "./_helpers.ts";

Deno.test("blue/green: add B, remove A under load with zero failed requests", async () => {
  const delay = () => new Promise((r) => setTimeout(r, 3));
  await using blue = startHttpBackend(async () => {
    await delay();
    return new Response("blue");
  });
  await using green = startHttpBackend(async () => {
    await delay();
    return new Response("green");
  });
  await using proxy = await startProxy({
    clusters: { app: [blue.address] },
    fronts: [["127.0.0.1", "", "app"]],
  });
  const counts: Record<string, number> = { blue: 0, green: 0 };
  const failures: string[] = [];
  let running = true;
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 16 });
  const worker = async () => {
    while (running) {
      try {
        const res = await fetch(`http://127.0.0.1:${proxy.port}/`, { client });
        const text = await res.text();
        if (res.status !== 200) failures.push(`${res.status} ${text}`);
        else counts[text] = (counts[text] ?? 0) + 1;
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const load = Array.from({ length: 12 }, worker);
  try {
    await waitFor(() => counts.blue! > 200, { what: "traffic on blue" });
    await proxy.apply({
      op: "add_backend",
      backend: { clusterId: "app", backendId: "green", address: green.address },
    });
    await waitFor(() => counts.green! > 100, { what: "traffic on green" });
    await proxy.apply({
      op: "remove_backend",
      clusterId: "app",
      backendId: "app-0",
      address: blue.address,
    });
    const blueAtRemoval = counts.blue!;
    const greenAtRemoval = counts.green!;
    await waitFor(() => counts.green! > greenAtRemoval + 300, { what: "traffic after removal" });
    // In-flight requests on blue finished; nothing new went there.
    assert.ok(counts.blue! - blueAtRemoval <= 12, `blue got ${counts.blue! - blueAtRemoval} more`);
  } finally {
    running = false;
    await Promise.all(load);
    client.close();
  }
  assert.deepEqual(failures, []);
});

function silentBackend() {
  const arrived = Promise.withResolvers<void>();
  const backend = startRawBackend((received) => {
    if (!received.includes("\r\n\r\n")) return null;
    arrived.resolve();
    return null;
  });
  return { backend, arrived: arrived.promise };
}

Deno.test("soft stop: in-flight request finishes, idle keep-alive closes, new ones refused", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await using backend = startHttpBackend(async (req) => {
    if (new URL(req.url).pathname === "/slow") await gate;
    return new Response("finished");
  });
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["soft.test", "", "app"]],
  });
  // An idle keep-alive connection (one request done).
  const idle = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const buf = new Uint8Array(4096);
  await idle.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: soft.test\r\n\r\n"));
  assert.ok(await idle.read(buf));
  // A request in flight, held at the backend.
  const inflight = rawExchange(proxy.port, "GET /slow HTTP/1.1\r\nHost: soft.test\r\n\r\n");
  await waitFor(() => backend.requests === 2, { what: "request at the backend" });

  let stopped = false;
  const stopping = proxy.dp.softStop().then(() => (stopped = true));
  // The idle keep-alive connection is closed promptly.
  const idleEnd = await idle.read(buf).catch(() => null);
  assert.equal(idleEnd, null);
  idle.close();
  // New connections are no longer served.
  const refused = await rawExchange(proxy.port, "GET / HTTP/1.1\r\nHost: soft.test\r\n\r\n", {
    timeoutMs: 1000,
  });
  assert.equal(refused, "");
  assert.equal(stopped, false, "soft stop waits for the in-flight request");
  release();
  const answer = await inflight;
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(answer, /\r\nConnection: close\r\n/);
  assert.ok(answer.endsWith("finished"));
  await stopping;
  assert.deepEqual(proxy.dp.workers().map((w) => w.runState), ["STOPPED"]);
});

Deno.test("hard stop: the in-flight request is dropped at once", async () => {
  const slow = silentBackend();
  await using backend = slow.backend;
  await using proxy = await startProxy({
    clusters: { app: [backend.address] },
    fronts: [["hard.test", "", "app"]],
  });
  const inflight = rawExchange(proxy.port, "GET / HTTP/1.1\r\nHost: hard.test\r\n\r\n", {
    timeoutMs: 5000,
  });
  await slow.arrived;
  await proxy.dp.hardStop();
  assert.equal(await inflight, "", "the client gets nothing");
  assert.deepEqual(proxy.dp.workers().map((w) => w.runState), ["STOPPED"]);
  await assert.rejects(() => proxy.dp.apply({ op: "remove_cluster", id: "app" }));
});
