/** The per-backend figures of the status page: counters, the one-minute series and merging. */
import assert from "node:assert/strict";
import {
  BackendCounters,
  mergeBackendFigures,
  SERIES_SECONDS,
} from "../../lib/backends/http_proxy/backend_stats.ts";
import type { BackendFigures } from "../../lib/backends/http_proxy/mod.ts";

Deno.test("BackendCounters.roll() closes a second into requests/s and p99 (25 % buckets)", () => {
  const c = new BackendCounters();
  c.roll(1000);
  for (let i = 0; i < 99; i++) {
    c.requests++;
    c.record(2);
  }
  c.requests++;
  c.record(40);
  c.roll(1001);
  const s = c.series();
  assert.equal(s.second, 1001);
  assert.equal(s.rps.length, SERIES_SECONDS);
  assert.equal(s.rps.at(-1), 100);
  const p99 = s.p99.at(-1)!;
  assert.ok(p99 >= 2 && p99 <= 2.5, `p99 ${p99}`);
  c.roll(1004);
  const later = c.series();
  assert.deepEqual(later.rps.slice(-4), [100, 0, 0, 0], "quiet seconds are zeros");
});

Deno.test("BackendCounters times every exchange early in a second, then one in 16", () => {
  const c = new BackendCounters();
  let timed = 0;
  for (let i = 0; i < 64 + 160; i++) {
    if (c.timing()) {
      timed++;
      c.record(1);
    }
    c.requests++;
  }
  assert.equal(timed, 64 + 10);
  c.roll(5);
  c.roll(6);
  assert.ok(c.timing(), "a new second times again");
});

Deno.test("BackendCounters keeps down/up and the last error", () => {
  const c = new BackendCounters();
  c.failed("cannot connect", 10);
  assert.equal(c.down, true);
  assert.equal(c.failures, 1);
  c.connected(20);
  assert.equal(c.down, false);
  assert.equal(c.lastError, "cannot connect");
  assert.equal(c.stateAt, 20);
});

function figures(over: Partial<BackendFigures>): BackendFigures {
  return {
    clusterId: "app",
    backendId: "b1",
    address: "127.0.0.1:1",
    backup: false,
    active: 1,
    requests: 10,
    failures: 0,
    down: false,
    stateAt: 0,
    lastError: null,
    lastErrorAt: 0,
    second: 100,
    rps: new Array(SERIES_SECONDS).fill(1),
    p99: new Array(SERIES_SECONDS).fill(5),
    ...over,
  };
}

Deno.test("mergeBackendFigures() adds workers up on aligned seconds; the latest state wins", () => {
  const a = figures({ stateAt: 50, down: false });
  const b = figures({
    second: 99,
    stateAt: 60,
    down: true,
    lastError: "refused",
    lastErrorAt: 60,
    p99: new Array(SERIES_SECONDS).fill(9),
  });
  const other = figures({ backendId: "b2" });
  const [m, o] = mergeBackendFigures([[a, other], [b]]);
  assert.equal(m!.active, 2);
  assert.equal(m!.requests, 20);
  assert.equal(m!.down, true);
  assert.equal(m!.lastError, "refused");
  assert.equal(m!.second, 100);
  assert.equal(m!.rps.at(-1), 1, "worker b has no point for second 100 yet");
  assert.equal(m!.rps.at(-2), 2);
  assert.equal(m!.p99.at(-2), 9, "p99 is the slowest worker's");
  assert.equal(o!.backendId, "b2");
});
