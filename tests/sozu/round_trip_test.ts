/**
 * Every message type over the real socket, in the code shapes and in the README's shapes, checked
 * against DUMP_STATE and against the orders the data plane received.
 */
import assert from "node:assert/strict";
import type { CommandResponse, ConfigStateJson, SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { backendTest } from "../_helpers/mod.ts";
import { makeCertificate } from "./_certs.ts";
import { startHarness } from "./_harness.ts";
import type { MemoryDataPlane } from "./_memory_plane.ts";

let n = 0;
function call(client: SozuClient, message: Record<string, unknown>): Promise<CommandResponse> {
  return client.send({ id: `t-${++n}`, version: 0, ...message }, { timeoutMs: 5000 });
}
function proxy(
  client: SozuClient,
  type: string,
  data?: unknown,
  extra: Record<string, unknown> = {},
) {
  return call(client, {
    type: "PROXY",
    data: data === undefined ? { type } : { type, data },
    ...extra,
  });
}
function readme(client: SozuClient, type: string, data?: unknown) {
  return call(client, { data: data === undefined ? { type } : { type, data } });
}
async function ok(reply: Promise<CommandResponse>): Promise<CommandResponse> {
  const r = await reply;
  assert.equal(r.status, "OK", `expected OK, got ${JSON.stringify(r)}`);
  assert.equal(r.version, 0);
  return r;
}
async function dump(client: SozuClient): Promise<ConfigStateJson> {
  const r = await ok(call(client, { type: "DUMP_STATE" }));
  assert.equal(r.data?.type, "STATE");
  return r.data!.data as ConfigStateJson;
}

const HTTP = "127.0.0.1:18080";
const HTTPS = "127.0.0.1:18443";

backendTest(
  "every message type round-trips in the code shapes",
  { tools: ["openssl"] },
  async () => {
    const cert = await makeCertificate("secure.example.com");
    const cert2 = await makeCertificate("secure.example.com");
    await using h = await startHarness();
    const c = await h.client();
    const plane = h.plane as MemoryDataPlane;

    await ok(
      proxy(c, "ADD_HTTP_LISTENER", { front: HTTP, answer_404: "HTTP/1.1 404 Not Found\r\n\r\n" }),
    );
    await ok(proxy(c, "ACTIVATE_LISTENER", { front: HTTP, proxy: "HTTP", from_scm: false }));
    const httpsReply = await ok(proxy(c, "ADD_HTTPS_LISTENER", { front: HTTPS }));
    assert.equal(httpsReply.message, "");
    await ok(proxy(c, "ACTIVATE_LISTENER", { front: HTTPS, proxy: "https", from_scm: false }));
    await ok(proxy(c, "ADD_APPLICATION", {
      app_id: "app1",
      sticky_session: false,
      https_redirect: false,
      load_balancing: "round_robin",
    }));
    await ok(
      proxy(c, "ADD_APPLICATION", { app_id: "old", load_balancing_policy: "leastconnections" }),
    );
    await ok(
      proxy(c, "ADD_HTTP_FRONT", {
        app_id: "app1",
        address: HTTP,
        hostname: "Example.COM",
        path_begin: "/api",
      }),
    );
    await ok(
      proxy(c, "ADD_BACKEND", { app_id: "app1", backend_id: "b1", address: "127.0.0.1:9001" }),
    );
    await ok(proxy(c, "ADD_BACKEND", {
      app_id: "app1",
      backend_id: "b2",
      address: "127.0.0.1:9002",
      load_balancing_parameters: { weight: 10 },
      backup: false,
    }));
    await ok(proxy(c, "ADD_CERTIFICATE", {
      front: HTTPS,
      certificate: { certificate: cert.certificate, certificate_chain: [], key: cert.key },
      names: ["secure.example.com"],
    }));
    await ok(
      proxy(c, "ADD_HTTPS_FRONT", {
        app_id: "app1",
        address: HTTPS,
        hostname: "secure.example.com",
        path_begin: "",
      }),
    );

    let state = await dump(c);
    assert.deepEqual(state.http_listeners[HTTP]?.[1], true);
    assert.equal(state.http_listeners[HTTP]?.[0].answer_404, "HTTP/1.1 404 Not Found\r\n\r\n");
    assert.deepEqual(state.https_listeners[HTTPS]?.[1], true);
    assert.equal(state.applications["old"]?.load_balancing, "least_loaded");
    assert.deepEqual(state.http_fronts["app1"], [
      { app_id: "app1", address: HTTP, hostname: "example.com", path_begin: "/api" },
    ]);
    assert.equal(state.backends["app1"]?.length, 2);
    assert.deepEqual(Object.keys(state.certificates[HTTPS] ?? {}), [cert.fingerprint]);
    assert.equal(state.https_fronts["app1"]?.[0]?.hostname, "secure.example.com");
    assert.deepEqual(state.http_addresses, [HTTP]);
    assert.deepEqual(plane.orders.map((o) => o.op), [
      "add_listener",
      "activate_listener",
      "add_listener",
      "activate_listener",
      "add_cluster",
      "add_cluster",
      "add_front",
      "add_backend",
      "add_backend",
      "add_certificate",
      "add_front",
    ]);

    // queries
    let r: CommandResponse = await ok(
      proxy(c, "QUERY", { type: "APPLICATIONS", data: { type: "APP_ID", data: "app1" } }),
    );
    assert.equal(r.data?.type, "QUERY");
    const main =
      (r.data!.data as Record<string, { type: string; data: { backends: unknown[] }[] }>)["main"]!;
    assert.equal(main.type, "APPLICATIONS");
    assert.equal(main.data[0]!.backends.length, 2);
    assert.ok("0" in (r.data!.data as object), "one answer per worker");
    r = await ok(
      proxy(c, "QUERY", {
        type: "APPLICATIONS",
        data: { type: "DOMAIN", data: { hostname: "example.com" } },
      }),
    );
    assert.equal((r.data!.data as Record<string, { data: unknown[] }>)["main"]!.data.length, 1);
    r = await ok(
      proxy(c, "QUERY", {
        type: "APPLICATIONS",
        data: { type: "DOMAIN", data: { hostname: "nothing.example" } },
      }),
    );
    assert.equal((r.data!.data as Record<string, { data: unknown[] }>)["main"]!.data.length, 0);
    r = await ok(proxy(c, "QUERY", { type: "APPLICATIONS_HASHES" }));
    assert.deepEqual(
      Object.keys((r.data!.data as Record<string, { data: object }>)["main"]!.data).sort(),
      ["app1", "old"],
    );
    r = await ok(proxy(c, "QUERY", { type: "CERTIFICATES", data: { type: "ALL" } }));
    const bytes = cert.fingerprint.match(/../g)!.map((b) => parseInt(b, 16));
    assert.deepEqual(r.data?.data, {
      "0": { type: "CERTIFICATES", data: { All: { [HTTPS]: { "secure.example.com": bytes } } } },
    });

    // workers and status
    r = await ok(call(c, { type: "LIST_WORKERS" }));
    assert.equal(r.data?.type, "WORKERS");
    assert.deepEqual(r.data?.data, [{ id: 0, pid: Deno.pid, run_state: "RUNNING" }]);
    r = await ok(call(c, { type: "STATUS" }));
    assert.equal(r.data?.type, "STATUS");
    await ok(proxy(c, "STATUS", undefined, { worker_id: 0 }));
    r = await proxy(c, "STATUS", undefined, { worker_id: 7 });
    assert.equal(r.status, "ERROR");
    assert.match(r.message, /worker 7 not found/);
    r = await ok(
      call(c, {
        type: "LIST_FRONTENDS",
        data: { http: true, https: false, tcp: false, domain: "example" },
      }),
    );
    assert.equal(r.data?.type, "FRONTEND_LIST");
    assert.equal(
      (r.data!.data as unknown as { http_frontends: unknown[] }).http_frontends.length,
      1,
    );

    // save, load (no change), and the record stream
    r = await ok(call(c, { type: "SAVE_STATE", data: { path: "saved.state" } }));
    assert.match(r.message, /^saved 11 config messages to .*saved\.state$/);
    const text = await Deno.readTextFile(`${h.stateDir}/sozu/saved.state`);
    const records = text.split("\n\0").filter((x) => x !== "").map((x) => JSON.parse(x));
    assert.equal(records.length, 11);
    assert.deepEqual(records.map((x) => x.data.type), [
      "ADD_HTTP_LISTENER",
      "ACTIVATE_LISTENER",
      "ADD_HTTPS_LISTENER",
      "ACTIVATE_LISTENER",
      "ADD_APPLICATION",
      "ADD_APPLICATION",
      "ADD_HTTP_FRONT",
      "ADD_CERTIFICATE",
      "ADD_HTTPS_FRONT",
      "ADD_BACKEND",
      "ADD_BACKEND",
    ]);
    assert.ok(
      records.every((x, i) => x.id === `SAVE-${i}` && x.version === 0 && x.type === "PROXY"),
    );
    r = await ok(call(c, { type: "LOAD_STATE", data: { path: "saved.state" } }));
    assert.equal(r.message, "ok: 0 messages, error: 0");

    // replace and remove
    await ok(proxy(c, "REPLACE_CERTIFICATE", {
      front: HTTPS,
      new_certificate: { certificate: cert2.certificate, certificate_chain: [], key: cert2.key },
      old_fingerprint: cert.fingerprint,
    }));
    state = await dump(c);
    assert.deepEqual(Object.keys(state.certificates[HTTPS] ?? {}), [cert2.fingerprint]);
    await ok(
      proxy(c, "REMOVE_HTTPS_FRONT", {
        app_id: "app1",
        address: HTTPS,
        hostname: "secure.example.com",
        path_begin: "",
      }),
    );
    await ok(proxy(c, "REMOVE_CERTIFICATE", { front: HTTPS, fingerprint: cert2.fingerprint }));
    await ok(
      proxy(c, "REMOVE_HTTP_FRONT", {
        app_id: "app1",
        address: HTTP,
        hostname: "example.com",
        path_begin: "/api",
      }),
    );
    await ok(
      proxy(c, "REMOVE_BACKEND", { app_id: "app1", backend_id: "b1", address: "127.0.0.1:9001" }),
    );
    await ok(
      proxy(c, "REMOVE_BACKEND", { app_id: "app1", backend_id: "b2", address: "127.0.0.1:9002" }),
    );
    await ok(proxy(c, "REMOVE_APPLICATION", "app1"));
    await ok(proxy(c, "REMOVE_CLUSTER", { cluster_id: "old" }));
    await ok(proxy(c, "DEACTIVATE_LISTENER", { front: HTTP, proxy: "http", to_scm: false }));
    await ok(proxy(c, "REMOVE_LISTENER", { front: HTTP, proxy: "http" }));
    await ok(proxy(c, "REMOVE_LISTENER", { front: HTTPS, proxy: "https" }));
    state = await dump(c);
    assert.deepEqual(state.applications, {});
    assert.deepEqual(state.http_listeners, {});
    assert.deepEqual(state.https_listeners, {});
    assert.deepEqual(
      plane.orders.slice(-11).map((o) => o.op),
      [
        "replace_certificate",
        "remove_front",
        "remove_certificate",
        "remove_front",
        "remove_backend",
        "remove_backend",
        "remove_cluster",
        "remove_cluster",
        "deactivate_listener",
        "remove_listener",
        "remove_listener",
      ],
    );

    // not supported (or, in-process without an agent, not possible): a clear ERROR, not silence
    for (const type of ["UPGRADE_MAIN", "UPGRADE_MASTER", "LAUNCH_WORKER"]) {
      r = await call(c, { type });
      assert.equal(r.status, "ERROR");
      assert.match(r.message, /not supported|cannot upgrade itself here/);
    }
  },
);

backendTest("the README's shapes are accepted and fill in the default listener", {
  tools: ["openssl"],
}, async () => {
  const cert = await makeCertificate("doc.example.com");
  await using h = await startHarness({ config: { listeners: [HTTP] } });
  const c = await h.client();
  await ok(proxy(c, "ADD_HTTPS_LISTENER", { front: HTTPS }));
  await ok(proxy(c, "ADD_APPLICATION", { app_id: "xxx" }));
  await ok(
    readme(c, "ADD_HTTP_FRONT", { app_id: "xxx", hostname: "example.com", path_begin: "/hello" }),
  );
  await ok(readme(c, "ADD_BACKEND", { app_id: "xxx", ip_address: "127.0.0.1", port: 8080 }));
  await ok(
    readme(c, "ADD_CERTIFICATE", {
      certificate: cert.certificate,
      certificate_chain: [],
      key: cert.key,
    }),
  );
  await ok(readme(c, "ADD_HTTPS_FRONT", {
    app_id: "xxx",
    hostname: "doc.example.com",
    path_begin: "/hello",
    fingerprint: cert.fingerprint,
  }));
  let state = await dump(c);
  assert.deepEqual(state.http_fronts["xxx"], [{
    app_id: "xxx",
    address: HTTP,
    hostname: "example.com",
    path_begin: "/hello",
  }]);
  assert.deepEqual(state.backends["xxx"]?.[0]?.address, "127.0.0.1:8080");
  assert.deepEqual(state.certificates[HTTPS]?.[cert.fingerprint]?.[1], ["doc.example.com"]);
  assert.equal(state.https_fronts["xxx"]?.[0]?.address, HTTPS);

  // top-level order name without the PROXY wrapper, and a string worker_id
  await ok(call(c, { type: "ADD_APPLICATION", data: { app_id: "yyy" }, worker_id: "0" }));
  // README REMOVE_HTTP_FRONT: fields directly under data, with the listener's port
  await ok(
    call(c, {
      data: {
        type: "REMOVE_HTTP_FRONT",
        app_id: "xxx",
        hostname: "example.com",
        path_begin: "/hello",
        port: 18080,
      },
    }),
  );
  await ok(readme(c, "REMOVE_HTTPS_FRONT", {
    app_id: "xxx",
    hostname: "doc.example.com",
    path_begin: "/hello",
    fingerprint: cert.fingerprint,
  }));
  await ok(readme(c, "REMOVE_BACKEND", { app_id: "xxx", ip_address: "127.0.0.1", port: 8080 }));
  await ok(readme(c, "REMOVE_CERTIFICATE", cert.fingerprint));
  state = await dump(c);
  assert.deepEqual(state.http_fronts, {});
  assert.deepEqual(state.https_fronts, {});
  assert.deepEqual(state.backends, {});
  assert.deepEqual(state.certificates, {});
  await ok(readme(c, "STATUS"));
  const up = await readme(c, "UPGRADE_MASTER");
  assert.equal(up.status, "ERROR");
  assert.match(up.message, /this agent cannot upgrade itself here/);
  const soft = await ok(readme(c, "SOFT_STOP"));
  assert.match(soft.message, /stopped/);
  assert.deepEqual(h.stoppedReasons, ["SOFT_STOP"]);
});

Deno.test("SOFT_STOP sends PROCESSING first; HARD_STOP answers OK; both end the service", async () => {
  for (const hard of [false, true]) {
    await using h = await startHarness();
    const c = await h.client();
    const seen: string[] = [];
    const reply = await c.send(
      { id: "stop", version: 0, type: "PROXY", data: { type: hard ? "HARD_STOP" : "SOFT_STOP" } },
      { timeoutMs: 5000, onReply: (r) => seen.push(r.status) },
    );
    assert.equal(reply.status, "OK");
    assert.deepEqual(seen, hard ? ["OK"] : ["PROCESSING", "OK"]);
    assert.deepEqual(h.stoppedReasons, [hard ? "HARD_STOP" : "SOFT_STOP"]);
    const workers = (h.plane as MemoryDataPlane).workers();
    assert.equal(workers[0]?.runState, "STOPPED");
  }
});
