/**
 * The front router's rules as pure logic (the real-traffic test is tests/sozu/v14_router_test.ts):
 * replacement and removal by rule identity, counts, method-specific EQUALS first, a method prefix
 * winning over an any-method one of the same length, PRE order, listener removal, bad regex.
 */
import assert from "node:assert/strict";
import { FrontRouter } from "../../lib/backends/http_proxy/front_router.ts";
import type { FrontSpec } from "../../lib/backends/http_proxy/model.ts";

const L = "127.0.0.1:80";
const f = (clusterId: string, pathBegin: string, extra: Partial<FrontSpec> = {}): FrontSpec => ({
  listener: L,
  clusterId,
  hostname: "a.test",
  pathBegin,
  ...extra,
});

Deno.test("front router: rule identity, priorities and removal", () => {
  const r = new FrontRouter();
  const pick = (path: string, method = "GET", host = "a.test") =>
    r.lookup(L, host, path, method)?.clusterId ?? null;
  r.add(f("root", "/"));
  r.add(f("eq-any", "/x", { pathRule: "equals" }));
  r.add(f("eq-get", "/x", { pathRule: "equals", method: "GET" }));
  r.add(f("re", "^/r/[0-9]+$", { pathRule: "regex" }));
  r.add(f("pfx-put", "/p", { method: "PUT" }));
  r.add(f("pfx", "/p"));
  assert.equal(r.count, 6);
  assert.equal(pick("/x"), "eq-get");
  assert.equal(pick("/x", "POST"), "eq-any");
  assert.equal(pick("/r/12"), "re");
  assert.equal(pick("/r/12a"), "root");
  assert.equal(pick("/p/1", "PUT"), "pfx-put");
  assert.equal(pick("/p/1"), "pfx");
  // Same rule, other cluster: replaced, not added.
  r.add(f("pfx2", "/p"));
  assert.equal(r.count, 6);
  assert.equal(pick("/p/1"), "pfx2");
  // Removal needs the same target.
  r.remove(f("pfx", "/p"));
  assert.equal(r.count, 6);
  r.remove(f("pfx2", "/p"));
  assert.equal(r.count, 5);
  assert.equal(pick("/p/1"), "root");
  r.remove(f("eq-get", "/x", { pathRule: "equals", method: "GET" }));
  assert.equal(pick("/x"), "eq-any");

  r.add(f("first", "/", { position: "pre", hostname: "*.a.test" }));
  r.add(f("second", "/", { position: "pre", hostname: "b.a.test" }));
  r.add(f("", "/deny", { position: "post", deny: true, hostname: "z.test" }));
  assert.equal(pick("/", "GET", "b.a.test"), "first");
  assert.equal(r.lookup(L, "z.test", "/deny/1", "GET")?.deny, true);
  assert.equal(pick("/other", "GET", "z.test"), null);
  assert.equal(r.count, 7);
  r.removeListener(L);
  assert.equal(r.count, 0);
  assert.equal(pick("/"), null);
  assert.throws(() => r.add(f("bad", "(", { pathRule: "regex" })), /invalid path regex/);
  assert.equal(r.count, 0);
});
