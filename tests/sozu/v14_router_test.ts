/**
 * sozu 0.14's router with real HTTP requests through the real data plane: PRE rules before the
 * hostname tree, the tree (EQUALS and REGEX beat prefixes, the longest prefix wins, a method rule
 * only for its method), POST rules after it; DENY answers 401. Plain 0.13 fronts on the same
 * listener keep routing as before.
 */
import assert from "node:assert/strict";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import { freePort } from "../_helpers/mod.ts";
import { startHarness } from "./_harness.ts";
import { namedBackend } from "./_https.ts";
import { ok, request } from "./_v14.ts";

Deno.test("PRE, tree and POST rules route real requests in sozu 0.14's order; DENY is 401", async () => {
  const names = ["root", "api", "exact", "versioned", "posts", "fallback", "old"] as const;
  const backends = names.map((n) => namedBackend(n));
  try {
    const port = freePort();
    const address = `127.0.0.1:${port}`;
    await using h = await startHarness({
      config: { worker_count: 1, listeners: [address] },
      plane: (o) => createDataPlane(o),
    });
    const c = await h.client();
    for (const [i, name] of names.entries()) {
      await ok(c, "ADD_CLUSTER", { cluster_id: name });
      await ok(c, "ADD_BACKEND", {
        cluster_id: name,
        backend_id: name,
        address: backends[i]!.address,
      });
    }
    const front = (cluster: string | null, rest: Record<string, unknown>) =>
      ok(c, "ADD_HTTP_FRONTEND", {
        route: cluster === null ? "DENY" : { CLUSTER_ID: cluster },
        address,
        hostname: "app.test",
        ...rest,
      });
    await front("root", { path: { PREFIX: "/" } });
    await front("api", { path: { PREFIX: "/api" } });
    await front("exact", { path: { EQUALS: "/api/exact" } });
    await front("versioned", { path: { REGEX: "^/api/v[0-9]+/" } });
    await front("posts", { path: { PREFIX: "/api" }, method: "POST" });
    await front(null, { path: { PREFIX: "/admin" }, position: "PRE" });
    await front(null, { hostname: "*.app.test", path: { EQUALS: "/forbidden" }, position: "PRE" });
    await front("fallback", { hostname: "*.app.test", position: "POST" });
    // A 0.13 front on the same listener.
    await ok(c, "ADD_HTTP_FRONT", {
      app_id: "old",
      address,
      hostname: "old.test",
      path_begin: "/",
    });

    const cases: [string, string, string, number, string][] = [
      ["GET", "app.test", "/", 200, "root"],
      ["GET", "app.test", "/other", 200, "root"],
      ["GET", "app.test", "/api/list", 200, "api"],
      ["GET", "app.test", "/api/exact", 200, "exact"], // EQUALS beats the /api prefix
      ["GET", "app.test", "/api/exact/more", 200, "api"], // EQUALS is the whole path
      ["GET", "app.test", "/api/v2/items", 200, "versioned"], // REGEX beats the prefix
      ["POST", "app.test", "/api/list", 200, "posts"], // the POST rule, same prefix
      ["PUT", "app.test", "/api/list", 200, "api"], // not POST: the any-method rule
      ["GET", "app.test", "/admin/users", 401, ""], // PRE before the tree's "/"
      ["GET", "www.app.test", "/forbidden", 401, ""], // PRE with a wildcard host
      ["GET", "www.app.test", "/page", 200, "fallback"], // no tree rule: POST
      ["GET", "old.test", "/x", 200, "old"],
      ["GET", "unknown.test", "/", 404, ""],
    ];
    for (const [method, host, path, status, body] of cases) {
      const r = await request(port, host, path, method);
      assert.equal(r?.status, status, `${method} ${host}${path}`);
      if (body) assert.equal(r?.body, `${body} http`, `${method} ${host}${path}`);
    }
    // Removing the DENY rule opens /admin to the tree.
    await ok(c, "REMOVE_HTTP_FRONTEND", {
      route: "DENY",
      address,
      hostname: "app.test",
      path: { PREFIX: "/admin" },
      position: "PRE",
    });
    assert.deepEqual(await request(port, "app.test", "/admin/users"), {
      status: 200,
      body: "root http",
    });
  } finally {
    for (const b of backends) await b[Symbol.asyncDispose]();
  }
});
