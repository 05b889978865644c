/**
 * The control plane with the real data plane in-process: two workers listed by LIST_WORKERS; a
 * crashed worker is replaced and re-fed the state the control plane holds, so traffic keeps
 * flowing and the new worker shows up in LIST_WORKERS.
 */
import assert from "node:assert/strict";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import { WorkerFaults } from "../http_proxy/_faults.ts";
import type { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort, waitFor } from "../_helpers/mod.ts";
import { startHarness } from "./_harness.ts";

async function get(port: number, host: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    let text = "";
    const buf = new Uint8Array(16384);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return text;
  } finally {
    conn.close();
  }
}

async function ok(c: SozuClient, type: string, data?: unknown) {
  const r = await c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 15_000 });
  assert.equal(r.status, "OK", `${type}: ${r.message}`);
  return r;
}

Deno.test("a crashed worker is replaced and re-fed the current state", async () => {
  const backendPort = freePort();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: backendPort, onListen: () => {} },
    () => new Response("hello"),
  );
  try {
    const port = freePort();
    const faults = new WorkerFaults();
    await using h = await startHarness({
      config: { worker_count: 2, listeners: [`127.0.0.1:${port}`] },
      plane: (o) => createDataPlane({ ...o, spawnWorker: faults.spawn }),
    });
    const c = await h.client();
    await ok(c, "ADD_APPLICATION", { app_id: "web" });
    await ok(c, "ADD_HTTP_FRONT", {
      app_id: "web",
      address: `127.0.0.1:${port}`,
      hostname: "app.test",
    });
    await ok(c, "ADD_BACKEND", {
      app_id: "web",
      backend_id: "one",
      address: `127.0.0.1:${backendPort}`,
    });
    const list = await c.request({ type: "LIST_WORKERS" }, { timeoutMs: 5000 });
    const before = list.data?.data as { id: number; run_state: string }[];
    assert.deepEqual(before.map((w) => [w.id, w.run_state]), [[0, "RUNNING"], [1, "RUNNING"]]);
    assert.match(await get(port, "app.test"), /^HTTP\/1\.1 200[\s\S]*hello$/);

    faults.crash(0);
    const after = await waitFor(async () => {
      const r = await c.request({ type: "LIST_WORKERS" }, { timeoutMs: 5000 });
      const ws = r.data?.data as { id: number; run_state: string }[];
      return ws.some((w) => w.id === 0) ? null : ws;
    }, { what: "worker 0 replaced" });
    assert.equal(after.length, 2);
    // every worker (the new one included) routes with the state it was re-fed
    for (let i = 0; i < 10; i++) assert.match(await get(port, "app.test"), /hello$/);
    const status = await c.request(
      { type: "PROXY", data: { type: "STATUS" }, worker_id: after[0]!.id },
      { timeoutMs: 5000 },
    );
    assert.equal(status.status, "OK");
  } finally {
    await server.shutdown();
  }
});
