/** Core `limits.ts`: the gate, eviction, deadlines, counters and the config fragment. */
import assert from "node:assert/strict";
import {
  type AdmittedConnection,
  createLogger,
  DEFAULT_LIMITS,
  type LimitsConfig,
  limitsSchema,
  ListenerLimits,
  listenerLimitsMetrics,
  type RefusalReason,
} from "../../lib/core/mod.ts";
import { waitFor } from "../_helpers/mod.ts";

function quietLog(lines: Record<string, unknown>[] = []) {
  return createLogger("t", { format: "json", sink: (line) => lines.push(JSON.parse(line)) });
}

/** Limits for one test, closed when it ends (`using`). */
function limits(config: Partial<LimitsConfig>, lines?: Record<string, unknown>[]) {
  const l = new ListenerLimits("test", "t0", { ...DEFAULT_LIMITS, ...config }, quietLog(lines));
  return Object.assign(l, { [Symbol.dispose]: () => l.close() });
}

/** Admits a connection whose expiries are pushed to `into` (with `label` when given). */
function track(l: ListenerLimits, into: string[], label = ""): AdmittedConnection {
  return admitted(l.admit(null, { expire: (r) => into.push(label ? `${label} ${r}` : r) }));
}

function admitted(
  result: AdmittedConnection | { refused: RefusalReason },
): AdmittedConnection {
  assert.ok(!("refused" in result), `refused: ${JSON.stringify(result)}`);
  return result as AdmittedConnection;
}

Deno.test("limits: the cap refuses the N+1th, and a slot comes back when one leaves", () => {
  using l = limits({ max_connections: 2, evict_idle: false });
  const a = admitted(l.admit(null, { expire: () => {} }));
  admitted(l.admit(null, { expire: () => {} }));
  assert.deepEqual(l.admit(null, { expire: () => {} }), { refused: "connections" });
  a.release();
  a.release(); // idempotent
  admitted(l.admit(null, { expire: () => {} }));
  assert.equal(l.open, 2);
  assert.deepEqual(l.refusals(), { connections: 1 });
});

Deno.test("limits: a per-address cap, and a smaller cap from an older key", () => {
  using l = limits({ max_connections: 10, max_per_peer: 1, evict_idle: false });
  admitted(l.admit("10.0.0.1", { expire: () => {} }));
  assert.deepEqual(l.admit("10.0.0.1", { expire: () => {} }), { refused: "per_peer" });
  admitted(l.admit("10.0.0.2", { expire: () => {} }));
  assert.deepEqual(l.admit(null, { cap: 2, expire: () => {} }), { refused: "connections" });
});

Deno.test("limits: at the cap the longest idle connection is evicted, never a busy one", () => {
  using l = limits({ max_connections: 2 });
  const expired: string[] = [];
  track(l, expired, "busy").busy(1);
  track(l, expired, "idle");
  track(l, expired, "new");
  assert.deepEqual(expired, ["idle evicted"]);
  assert.equal(l.open, 2);
  const third = l.admit(null, { expire: () => {} });
  assert.deepEqual(expired, ["idle evicted", "new evicted"]);
  admitted(third);
  assert.deepEqual(l.refusals(), { evicted: 2 });
});

Deno.test("limits: no frame within the deadline, or a frame left unfinished, expires", async () => {
  using l = limits({ frame_timeout_ms: 100, idle_timeout_ms: 0 });
  const expired: string[] = [];
  track(l, expired); // silent
  const partial = track(l, expired);
  partial.received(1, true); // one frame, then the start of another that never ends
  const fine = track(l, expired);
  fine.received(1, false);
  await waitFor(() => expired.length === 2 ? true : null, { what: "two expiries" });
  assert.deepEqual(expired, ["frame_timeout", "frame_timeout"]);
  assert.equal(l.open, 1);
});

Deno.test("limits: the idle timeout waits while a request runs", async () => {
  using l = limits({ frame_timeout_ms: 0, idle_timeout_ms: 100 });
  const expired: string[] = [];
  const running = track(l, expired, "running");
  running.received(1, false);
  running.busy(1);
  const idle = track(l, expired, "idle");
  idle.received(1, false);
  track(l, expired, "websocket").longLived();
  await waitFor(() => expired.length > 0 ? true : null, { what: "an idle expiry" });
  await new Promise((r) => setTimeout(r, 250));
  assert.deepEqual(expired, ["idle idle_timeout"]);
});

Deno.test("limits: refusals are logged once per interval and shown in the metrics", async () => {
  const lines: Record<string, unknown>[] = [];
  using l = limits({ max_connections: 1, evict_idle: false, log_interval_ms: 200 }, lines);
  admitted(l.admit(null, { expire: () => {} }));
  for (let i = 0; i < 5; i++) l.admit(null, { expire: () => {} });
  const logged = () => lines.filter((x) => x.msg === "listener limits refused or closed clients");
  assert.equal(logged().length, 1);
  await waitFor(() => logged().length === 2 ? true : null, { what: "the summary line" });
  assert.deepEqual(logged()[1]!.refused, { connections: 4 });
  const text = listenerLimitsMetrics();
  assert.match(text, /^polyagent_listener_connections\{service="test",listener="t0"\} 1$/m);
  assert.match(
    text,
    /^polyagent_listener_refused_total\{service="test",listener="t0",reason="connections"\} 5$/m,
  );
  l.close();
  assert.doesNotMatch(listenerLimitsMetrics(), /listener="t0"/);
});

Deno.test("limits: the config fragment fills defaults and names bad keys", () => {
  const schema = limitsSchema({ max_connections: 7 });
  assert.deepEqual(schema.parse(undefined), { ...DEFAULT_LIMITS, max_connections: 7 });
  assert.throws(() => schema.parse({ max_conections: 1 }));
  assert.throws(() => schema.parse({ frame_timeout_ms: -1 }));
});
