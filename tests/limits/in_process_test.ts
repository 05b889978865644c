/**
 * The listener limits on the two listeners the spawned agent of listeners_test.ts does not run:
 * Intervirt (in process, on fake backends) and the quix ctl socket.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createLogger, DEFAULT_LIMITS, listenerLimitsMetrics } from "../../lib/core/mod.ts";
import { QuixStatusSocket } from "../../lib/protocols/quix/mod.ts";
import { tempDir } from "../_helpers/mod.ts";
import { startOnFakes } from "../intervirt/_fakes.ts";
import { closeCode, connect, openWebSocket, untilClosed } from "./_clients.ts";

Deno.test("limits on intervirt: 408 for a silent client, 1013 for the idle one evicted", async () => {
  await using dir = await tempDir("limits-iv");
  await using agent = await startOnFakes(dir.path, {
    max_clients: 1,
    limits: { ...DEFAULT_LIMITS, frame_timeout_ms: 300 },
  });
  const port = Number(new URL(agent.url).port);
  assert.match(await untilClosed(await connect(port), null), /^HTTP\/1\.1 408 /);
  assert.match(
    await untilClosed(await connect(port), "GET /containerManagement HTTP/1.1\r\n"),
    /^HTTP\/1\.1 408 /,
  );
  const first = await openWebSocket(agent.url);
  const evicted = closeCode(first);
  const second = await openWebSocket(agent.url);
  assert.equal(await evicted, 1013);
  second.close();
  await closeCode(second);
  assert.match(
    listenerLimitsMetrics(),
    /^polyagent_listener_refused_total\{service="intervirt",.*reason="evicted"\} 1$/m,
  );
});

Deno.test("limits on the quix ctl socket: deadline, cap and oversize get {ok:false}", async () => {
  await using dir = await tempDir("limits-quix");
  const path = join(dir.path, "quix.sock");
  const socket = new QuixStatusSocket(
    path,
    {
      status: () => ({ up: true }),
      vpnRefresh: () => Promise.resolve({}),
    },
    createLogger("t", { sink: () => {} }),
    {
      ...DEFAULT_LIMITS,
      frame_timeout_ms: 300,
      max_connections: 1,
      evict_idle: false,
    },
  );
  await socket.listen();
  try {
    const silent = JSON.parse(await untilClosed(await connect(path), null));
    assert.deepEqual(silent, { ok: false, error: "request not complete after 300 ms" });
    const held = await connect(path);
    const refused = JSON.parse(await untilClosed(await connect(path), null));
    assert.deepEqual(refused, { ok: false, error: "too many clients" });
    held.close();
    await new Promise((r) => setTimeout(r, 100));
    const big = await untilClosed(await connect(path), "x".repeat(70_000) + "\n", 1000);
    assert.match(big, /"request too large"/);
  } finally {
    await socket.close();
  }
});
