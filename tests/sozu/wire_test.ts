/** Pure logic: addresses, hostnames, envelope decoding, and the record stream round trip. */
import assert from "node:assert/strict";
import { ConfigState, decodeRecords, encodeRecords } from "../../lib/protocols/sozu/mod.ts";
import { parseStateOrder } from "../../lib/protocols/sozu/state/mod.ts";
import {
  decodeRequest,
  isSocketAddress,
  normalizeHostname,
} from "../../lib/protocols/sozu/schemas.ts";

Deno.test("isSocketAddress() accepts ip:port and [v6]:port only", () => {
  for (const ok of ["127.0.0.1:80", "[::1]:8080", "10.1.2.3:65535", "[fd12::5]:1"]) {
    assert.ok(isSocketAddress(ok), ok);
  }
  for (
    const bad of [
      "localhost:80",
      "127.0.0.1",
      "127.0.0.1:0",
      "127.0.0.1:70000",
      "::1:80",
      "1.2.3.256:1",
    ]
  ) {
    assert.ok(!isSocketAddress(bad), bad);
  }
});

Deno.test("normalizeHostname() lower-cases, converts IDNA and keeps one-label wildcards", () => {
  assert.equal(normalizeHostname("Example.COM."), "example.com");
  assert.equal(normalizeHostname("*.Example.com"), "*.example.com");
  assert.equal(normalizeHostname("bücher.example"), "xn--bcher-kva.example");
  for (
    const bad of ["", "a b", "ex ample.com", "*.", "a..b", "exa_mple.com:80", "*.*.example.com"]
  ) {
    assert.equal(normalizeHostname(bad), null, bad);
  }
});

Deno.test("decodeRequest() accepts the code shape and both README shapes", () => {
  assert.deepEqual(
    decodeRequest({
      id: "a",
      version: 0,
      type: "PROXY",
      data: { type: "ADD_BACKEND", data: { x: 1 } },
    }),
    { id: "a", workerId: null, type: "PROXY", order: "ADD_BACKEND", payload: { x: 1 } },
  );
  assert.deepEqual(
    decodeRequest({ id: "b", version: 0, data: { type: "ADD_BACKEND", x: 1 } }),
    { id: "b", workerId: null, type: "PROXY", order: "ADD_BACKEND", payload: { x: 1 } },
  );
  assert.equal(
    decodeRequest({ id: "c", data: { type: "UPGRADE_MASTER" } }).type,
    "UPGRADE_MASTER",
  );
  assert.equal(decodeRequest({ id: "d", data: { type: "STATUS" } }).order, "STATUS");
  assert.equal(decodeRequest({ id: "e", type: "STATUS" }).type, "STATUS");
  assert.equal(
    decodeRequest({ id: "f", type: "ADD_BACKEND", data: {} }).order,
    "ADD_BACKEND",
  );
  assert.equal(decodeRequest({ id: "g", type: "DUMP_STATE", worker_id: "3" }).workerId, 3);
  assert.throws(
    () => decodeRequest({ id: "h", version: 1, type: "DUMP_STATE" }),
    /version mismatch/,
  );
});

Deno.test("a saved record stream replays into the same state", () => {
  const state = new ConfigState();
  const orders: [string, unknown][] = [
    ["ADD_HTTP_LISTENER", { front: "127.0.0.1:8080" }],
    ["ACTIVATE_LISTENER", { front: "127.0.0.1:8080", proxy: "http" }],
    ["ADD_APPLICATION", { app_id: "a", sticky_session: true }],
    ["ADD_HTTP_FRONT", {
      app_id: "a",
      address: "127.0.0.1:8080",
      hostname: "*.x.test",
      path_begin: "/p",
    }],
    ["ADD_BACKEND", {
      app_id: "a",
      backend_id: "b",
      address: "127.0.0.1:9000",
      load_balancing_parameters: { weight: 3 },
    }],
  ];
  for (const [type, data] of orders) state.apply(parseStateOrder(type, data, state));
  const text = encodeRecords(state.orders());
  assert.ok(text.endsWith("\n\0"));
  const replayed = new ConfigState();
  for (const record of decodeRecords(text)) {
    replayed.apply(parseStateOrder(record.order, record.payload, replayed));
  }
  assert.deepEqual(replayed.toJSON(), state.toJSON());
});

Deno.test("ADD_APPLICATION accepts every era's policy spelling", () => {
  const state = new ConfigState();
  const cases: [Record<string, unknown>, string][] = [
    [{ load_balancing_policy: "roundrobin" }, "round_robin"],
    [{ load_balancing_policy: "leastconnections" }, "least_loaded"],
    [{ load_balancing: "ROUND_ROBIN" }, "round_robin"],
    [{ load_balancing: "PowerOfTwo" }, "power_of_two"],
    [{ load_balancing: "least_loaded", load_metric: "CONNECTIONS" }, "least_loaded"],
    [{}, "round_robin"],
  ];
  for (const [extra, expected] of cases) {
    const order = parseStateOrder("ADD_APPLICATION", { app_id: "a", ...extra }, state);
    assert.equal(order.type === "ADD_APPLICATION" && order.data.load_balancing, expected);
  }
  assert.throws(
    () => parseStateOrder("ADD_APPLICATION", { app_id: "a", load_balancing: "fastest" }, state),
    /data\.load_balancing: expected one of/,
  );
});
