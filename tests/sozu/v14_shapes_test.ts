/**
 * sozu 0.14 message shapes through the real command socket: ADD/REMOVE_CLUSTER with
 * `cluster_id`, backends with `cluster_id`, ADD/REMOVE_HTTP(S)_FRONTEND with `route` (cluster or
 * DENY), `path` (PREFIX, EQUALS, REGEX), `method`, `position` and `tags`; QUERY CLUSTERS and
 * CLUSTERS_HASHES beside the 0.13 APPLICATIONS query; a bad regex answered ERROR naming the field;
 * SAVE_STATE / LOAD_STATE and a restart keep every 0.14 front.
 */
import assert from "node:assert/strict";
import type { ConfigStateJson } from "../../lib/protocols/sozu/mod.ts";
import { startHarness } from "./_harness.ts";
import { command, ok, order } from "./_v14.ts";

const HTTP = "127.0.0.1:18080";
const HTTPS = "127.0.0.1:18443";

const frontends = [
  { route: { CLUSTER_ID: "api" }, address: HTTP, hostname: "app.test", path: { PREFIX: "/" } },
  {
    route: { CLUSTER_ID: "api" },
    address: HTTP,
    hostname: "app.test",
    path: { EQUALS: "/exact" },
    method: "GET",
    position: "TREE",
    tags: { owner: "ops" },
  },
  {
    route: { CLUSTER_ID: "api" },
    address: HTTP,
    hostname: "app.test",
    path: { REGEX: "^/v[0-9]+/" },
  },
  {
    route: "DENY",
    address: HTTP,
    hostname: "app.test",
    path: { PREFIX: "/admin" },
    position: "PRE",
  },
  { route: { CLUSTER_ID: "api" }, address: HTTP, hostname: "*.app.test", position: "POST" },
];

Deno.test("every v0.14 order shape is accepted and shows in DUMP_STATE and QUERY CLUSTERS", async () => {
  await using h = await startHarness({
    config: { listeners: [HTTP], https_listeners: [HTTPS] },
  });
  const c = await h.client();
  await ok(c, "ADD_CLUSTER", { cluster_id: "api", load_balancing: "ROUND_ROBIN" });
  await ok(c, "ADD_CLUSTER", { cluster_id: "gone" });
  await ok(c, "ADD_BACKEND", { cluster_id: "api", backend_id: "b1", address: "127.0.0.1:9001" });
  await ok(c, "ADD_BACKEND", { cluster_id: "api", backend_id: "b2", address: "127.0.0.1:9002" });
  await ok(c, "REMOVE_BACKEND", { cluster_id: "api", backend_id: "b2", address: "127.0.0.1:9002" });
  for (const f of frontends) await ok(c, "ADD_HTTP_FRONTEND", f);
  const https = { route: { CLUSTER_ID: "api" }, address: HTTPS, hostname: "app.test" };
  await ok(c, "ADD_HTTPS_FRONTEND", https);
  // The same front again changes nothing; a different cluster on the same rule is a conflict.
  await ok(c, "ADD_HTTP_FRONTEND", frontends[2]);
  const clash = await order(c, "ADD_HTTP_FRONTEND", {
    ...frontends[2],
    route: { CLUSTER_ID: "gone" },
  });
  assert.equal(clash.status, "ERROR");
  assert.match(clash.message, /already routes to application "api"/);

  const dump = (await command(c, "DUMP_STATE")).data!.data as ConfigStateJson;
  assert.deepEqual(Object.keys(dump.applications).sort(), ["api", "gone"]);
  assert.deepEqual(dump.backends.api!.map((b) => b.backend_id), ["b1"]);
  // The plain prefix front keeps the 0.13 shape; the others are shown as v0.14 frontends.
  assert.deepEqual(dump.http_fronts.api![0], {
    app_id: "api",
    address: HTTP,
    hostname: "app.test",
    path_begin: "/",
  });
  assert.deepEqual(dump.http_fronts.api![1], { ...frontends[1], address: HTTP });
  assert.deepEqual(dump.http_fronts.DENY, [{ ...frontends[3], tags: null }]);
  assert.equal(dump.https_fronts.api!.length, 1);

  const byId = await ok(c, "QUERY", {
    type: "CLUSTERS",
    data: { type: "CLUSTER_ID", data: "api" },
  });
  const answer = (byId.data!.data as Record<string, { type: string; data: unknown[] }>).main!;
  assert.equal(answer.type, "CLUSTERS");
  const cluster = answer.data[0] as {
    configuration: { cluster_id: string };
    http_frontends: { route: unknown; path: unknown }[];
    backends: { cluster_id: string }[];
  };
  assert.equal(cluster.configuration.cluster_id, "api");
  assert.equal(cluster.http_frontends.length, 4);
  assert.deepEqual(cluster.http_frontends[2]!.path, { REGEX: "^/v[0-9]+/" });
  assert.equal(cluster.backends[0]!.cluster_id, "api");
  const byDomain = await ok(c, "QUERY", {
    type: "CLUSTERS",
    data: { type: "DOMAIN", data: { hostname: "app.test", path: "/" } },
  });
  const domain = (byDomain.data!.data as Record<string, { data: unknown[] }>)["0"]!;
  assert.equal(domain.data.length, 1);
  const hashes = await ok(c, "QUERY", { type: "CLUSTERS_HASHES" });
  const h0 = (hashes.data!.data as Record<string, { type: string; data: object }>).main!;
  assert.equal(h0.type, "CLUSTERS_HASHES");
  assert.deepEqual(Object.keys(h0.data).sort(), ["api", "gone"]);
  const old = await ok(c, "QUERY", {
    type: "APPLICATIONS",
    data: { type: "APP_ID", data: "api" },
  });
  const oldAnswer = (old.data!.data as Record<string, { data: { configuration: object }[] }>)
    .main!;
  assert.equal((oldAnswer.data[0]!.configuration as { app_id: string }).app_id, "api");

  // Removal in the v0.14 shapes.
  await ok(c, "REMOVE_HTTPS_FRONTEND", https);
  await ok(c, "REMOVE_HTTP_FRONTEND", frontends[3]);
  const again = await order(c, "REMOVE_HTTP_FRONTEND", frontends[3]);
  assert.equal(again.status, "ERROR");
  assert.match(again.message, /no HTTP front that denies \(401\)/);
  await ok(c, "REMOVE_CLUSTER", { cluster_id: "gone" });
  const after = (await command(c, "DUMP_STATE")).data!.data as ConfigStateJson;
  assert.deepEqual(Object.keys(after.applications), ["api"]);
  assert.equal(after.http_fronts.DENY, undefined);
  assert.deepEqual(after.https_fronts, {});
});

Deno.test("a bad v0.14 frontend gets an ERROR naming the field, and changes nothing", async () => {
  await using h = await startHarness({ config: { listeners: [HTTP] } });
  const c = await h.client();
  await ok(c, "ADD_CLUSTER", { cluster_id: "api" });
  const cases: [unknown, RegExp][] = [
    [
      { ...frontends[2], path: { REGEX: "^/(unclosed" } },
      /data\.path\.REGEX: invalid regular expression/,
    ],
    [{ ...frontends[0], path: { PREFIX: "/", EQUALS: "/" } }, /data\.path: expected exactly one/],
    [{ ...frontends[0], route: { CLUSTER: "api" } }, /data\.route/],
    [{ ...frontends[0], position: "MIDDLE" }, /data\.position/],
    [{ ...frontends[0], method: "GE T" }, /data\.method/],
    [{ ...frontends[0], route: { CLUSTER_ID: "nope" } }, /application "nope" does not exist/],
  ];
  for (const [payload, expected] of cases) {
    const r = await order(c, "ADD_HTTP_FRONTEND", payload);
    assert.equal(r.status, "ERROR", JSON.stringify(payload));
    assert.match(r.message, expected);
  }
  const bad = await order(c, "ADD_CLUSTER", { name: "api" });
  assert.equal(bad.status, "ERROR");
  assert.match(bad.message, /data\.app_id/);
  const dump = (await command(c, "DUMP_STATE")).data!.data as ConfigStateJson;
  assert.deepEqual(dump.http_fronts, {});
});

Deno.test("v0.14 fronts survive SAVE_STATE / LOAD_STATE and a restart", async () => {
  await using h = await startHarness({ config: { listeners: [HTTP] } });
  const c = await h.client();
  await ok(c, "ADD_CLUSTER", { cluster_id: "api" });
  for (const f of frontends) await ok(c, "ADD_HTTP_FRONTEND", f);
  const before = (await command(c, "DUMP_STATE")).data!.data as ConfigStateJson;
  await command(c, "SAVE_STATE", { path: "v14.state" });
  const saved = await Deno.readTextFile(`${h.stateDir}/sozu/v14.state`);
  assert.match(saved, /"type":"ADD_HTTP_FRONTEND","data":\{"route":"DENY"/);
  await h.restart();
  const c2 = await h.client();
  const restarted = (await command(c2, "DUMP_STATE")).data!.data as ConfigStateJson;
  assert.deepEqual(restarted, before);
  for (const f of [...frontends].reverse()) await ok(c2, "REMOVE_HTTP_FRONTEND", f);
  await ok(c2, "REMOVE_CLUSTER", { cluster_id: "api" });
  const loaded = await command(c2, "LOAD_STATE", { path: "v14.state" });
  assert.match(loaded.message, /^ok: 6 messages, error: 0/);
  assert.deepEqual((await command(c2, "DUMP_STATE")).data!.data, before);
});
