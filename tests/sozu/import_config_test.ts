/**
 * The conversion of a sozu configuration file into orders, as pure logic (the end-to-end run is
 * import_test.ts): v0.14 `[clusters]`, dependency order, notes for TLS keys on a plain listener,
 * unknown keys at every level, `activate_listeners = false`, a bad entry named.
 */
import assert from "node:assert/strict";
import { importToml } from "../../lib/protocols/sozu/import_config.ts";

const TOML = `
activate_listeners = false
worker_count = 4
[[listeners]]
protocol = "http"
address = "127.0.0.1:8080"
tls_versions = ["TLSv1.3"]
mystery = 1
[clusters.api]
protocol = "http"
sticky_session = true
send_proxy = true
backends = [{ address = "127.0.0.1:9000", weight = 10, backup = true, backend_id = "b" }]
frontends = [{ address = "127.0.0.1:8080", hostname = "api.test", path_begin = "/v1", odd = true }]
extra = "x"
`;

Deno.test("importToml: v0.14 clusters, dependency order and every key not applied named", () => {
  const plan = importToml(TOML, "c.toml", () => {
    throw new Error("no file is read");
  });
  assert.deepEqual(plan.orders.map((o) => o.order.type), [
    "ADD_HTTP_LISTENER",
    "ADD_APPLICATION",
    "ADD_HTTP_FRONT",
    "ADD_BACKEND",
  ]);
  assert.deepEqual(plan.orders[1]!.order.data, {
    app_id: "api",
    sticky_session: true,
    proxy_protocol: "SEND_HEADER",
  });
  assert.deepEqual(plan.orders[3]!.order.data, {
    app_id: "api",
    backend_id: "b",
    address: "127.0.0.1:9000",
    load_balancing_parameters: { weight: 10 },
    backup: true,
  });
  assert.deepEqual(plan.notes.sort(), [
    "listener 127.0.0.1:8080: TLS keys of a http listener are not applied",
    "not applied: worker_count (a process setting: see polyagent's [sozu] section)",
    "unknown key clusters.api.extra (not applied)",
    "unknown key clusters.api.frontends[0].odd (not applied)",
    "unknown key listeners[0].mystery (not applied)",
  ]);
  assert.throws(
    () => importToml('[[listeners]]\nprotocol = "udp"\naddress = "1.2.3.4:5"', "c.toml", String),
    /listeners\[0\]: protocol/,
  );
  assert.throws(() => importToml("a = [", "c.toml", String), /^InvalidError: c\.toml: /);
});
