/**
 * Metrics and logging through the real command socket and the real data plane (in-process
 * service, real sockets): METRICS and QUERY METRICS after real traffic, CONFIGURE_METRICS
 * disable / enable / clear, the Prometheus text on the admin app's /metrics (with the series cap),
 * LOGGING changing the agent's level and the workers' forwarded level, and the access log.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDataPlane } from "../../lib/backends/http_proxy/mod.ts";
import { createAdminApp } from "../../lib/protocols/admin/app.ts";
import type { SozuClient } from "../../lib/protocols/sozu/mod.ts";
import { freePort, waitFor } from "../_helpers/mod.ts";
import { rawExchange } from "../http_proxy/_helpers.ts";
import { type Harness, type HarnessOptions, startHarness } from "./_harness.ts";

function get(port: number, host: string, path = "/"): Promise<string> {
  return rawExchange(port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
}

function send(c: SozuClient, type: string, data?: unknown) {
  return c.request({ type: "PROXY", data: { type, data } }, { timeoutMs: 15_000 });
}

async function order(c: SozuClient, type: string, data?: unknown) {
  const r = await send(c, type, data);
  assert.equal(r.status, "OK", `${type}: ${r.message}`);
  return r;
}

interface Setup extends AsyncDisposable {
  h: Harness;
  c: SozuClient;
  port: number;
}

/** The service with one listener, application "web" on app.test with backends b0 and b1. */
async function setup(config: HarnessOptions["config"] = {}): Promise<Setup> {
  const port = freePort();
  const servers = [0, 1].map((i) => {
    const p = freePort();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: p, onListen: () => {} },
      () => new Response(i === 0 ? "zero" : "one!"),
    );
    return { server, address: `127.0.0.1:${p}` };
  });
  const h = await startHarness({
    config: { listeners: [`127.0.0.1:${port}`], ...config },
    plane: (o) => createDataPlane({ ...o, engine: { tickMs: 20 } }),
  });
  const c = await h.client();
  await order(c, "ADD_APPLICATION", { app_id: "web" });
  await order(c, "ADD_HTTP_FRONT", {
    app_id: "web",
    address: `127.0.0.1:${port}`,
    hostname: "app.test",
  });
  for (const [i, s] of servers.entries()) {
    await order(c, "ADD_BACKEND", { app_id: "web", backend_id: `b${i}`, address: s.address });
  }
  return {
    h,
    c,
    port,
    async [Symbol.asyncDispose]() {
      await h[Symbol.asyncDispose]();
      for (const s of servers) await s.server.shutdown();
    },
  };
}

type Filtered = { type: string; data: unknown };
type WorkerAnswer = {
  proxy: Record<string, Filtered>;
  applications: Record<
    string,
    { data: Record<string, Filtered>; backends: Record<string, Record<string, Filtered>> }
  >;
};

async function metrics(c: SozuClient): Promise<WorkerAnswer> {
  const r = await order(c, "METRICS");
  assert.equal(r.data?.type, "METRICS");
  const data = r.data!.data as {
    main: Record<string, Filtered>;
    workers: Record<string, WorkerAnswer>;
  };
  assert.deepEqual(Object.keys(data.workers), ["0"]);
  return data.workers["0"]!;
}

const countOf = (m: Record<string, Filtered>, name: string) => {
  assert.equal(m[name]?.type, "COUNT", name);
  return m[name]!.data as number;
};

Deno.test("METRICS and QUERY METRICS answer per proxy, application and backend after real traffic", async () => {
  await using s = await setup();
  for (let i = 0; i < 6; i++) assert.match(await get(s.port, "app.test"), /^HTTP\/1.1 200/);
  assert.match(await get(s.port, "nowhere.test"), /^HTTP\/1.1 404/);
  const w = await metrics(s.c);
  assert.equal(countOf(w.proxy, "http.requests"), 7);
  assert.equal(countOf(w.proxy, "http.status.2xx"), 6);
  assert.equal(countOf(w.proxy, "http.status.4xx"), 1);
  assert.ok(countOf(w.proxy, "bytes_in") > 6 * 30);
  assert.ok(countOf(w.proxy, "bytes_out") > 6 * 40);
  const opened = countOf(w.proxy, "connections");
  assert.ok(opened >= 2 && opened <= 6, `backend connections opened: ${opened}`);
  const connect = w.proxy.backend_connection_time!.data as { samples: number };
  assert.equal(connect.samples, opened, "every new connection is timed");
  assert.equal(w.proxy["client.connections"]?.type, "GAUGE");
  const web = w.applications.web!;
  assert.equal(countOf(web.data, "requests"), 6);
  assert.deepEqual(Object.keys(web.backends).sort(), ["b0", "b1"]);
  for (const id of ["b0", "b1"]) {
    const b = web.backends[id]!;
    assert.equal(countOf(b, "requests"), 3, id);
    assert.equal(countOf(b, "http.status.2xx"), 3, id);
    const p = b.backend_response_time!;
    assert.equal(p.type, "PERCENTILES");
    const d = p.data as Record<string, number>;
    assert.equal(d.samples, 3);
    assert.deepEqual(
      Object.keys(d),
      ["samples", "p_50", "p_90", "p_99", "p_99_9", "p_99_99", "p_99_999", "p_100"],
    );
    assert.ok(d.p_50! <= d.p_100!);
  }

  const query = async (data: unknown) => {
    const r = await order(s.c, "QUERY", { type: "METRICS", data });
    assert.equal(r.data?.type, "QUERY");
    const answer = (r.data!.data as Record<string, Filtered>)["0"]!;
    assert.equal(answer.type, "METRICS");
    return answer.data as Record<string, unknown>;
  };
  const all = await query({ list: false, cluster_ids: [], backend_ids: [], metric_names: [] }) as {
    All: {
      proxy: Record<string, Filtered>;
      clusters: Record<
        string,
        { cluster: Record<string, Filtered>; backends: Record<string, Record<string, Filtered>> }
      >;
    };
  };
  assert.equal(countOf(all.All.proxy, "http.requests"), 7);
  assert.equal(countOf(all.All.clusters.web!.cluster, "requests"), 6);
  const list = await query({ list: true }) as { List: [string[], string[]] };
  assert.ok(list.List[0].includes("http.requests"));
  assert.ok(list.List[1].includes("backend_response_time"));
  const one = await query({ cluster_ids: ["web"], metric_names: ["requests"] }) as {
    All: {
      proxy: null;
      clusters: Record<
        string,
        { cluster: Record<string, Filtered>; backends: Record<string, Record<string, Filtered>> }
      >;
    };
  };
  assert.equal(one.All.proxy, null);
  assert.deepEqual(Object.keys(one.All.clusters.web!.cluster), ["requests"]);
  assert.deepEqual(Object.keys(one.All.clusters.web!.backends.b1!), ["requests"]);
  const backend = await query({ backend_ids: ["b1"] }) as {
    All: {
      clusters: Record<
        string,
        { cluster: null; backends: Record<string, Record<string, Filtered>> }
      >;
    };
  };
  assert.equal(backend.All.clusters.web!.cluster, null);
  assert.equal(countOf(backend.All.clusters.web!.backends.b1!, "requests"), 3);
  assert.match(String((await query({ cluster_ids: ["nope"] })).Error), /nope/);
  // a bad option names its field
  const bad = await send(s.c, "QUERY", { type: "METRICS", data: { list: "yes" } });
  assert.equal(bad.status, "ERROR");
  assert.match(bad.message, /data\.data\.list/);
});

Deno.test("CONFIGURE_METRICS disables, enables and clears the figures", async () => {
  await using s = await setup();
  await get(s.port, "app.test");
  await order(s.c, "CONFIGURE_METRICS", "DISABLED");
  await get(s.port, "app.test");
  assert.equal(countOf((await metrics(s.c)).proxy, "http.requests"), 1, "not counted while off");
  await order(s.c, "CONFIGURE_METRICS", { Enabled: true });
  await get(s.port, "app.test");
  assert.equal(countOf((await metrics(s.c)).proxy, "http.requests"), 2);
  await order(s.c, "CONFIGURE_METRICS", "Clear");
  const cleared = await metrics(s.c);
  assert.equal(countOf(cleared.proxy, "http.requests"), 0);
  assert.deepEqual(cleared.applications, {});
  const bad = await send(s.c, "CONFIGURE_METRICS", "LOUD");
  assert.equal(bad.status, "ERROR");
  assert.match(bad.message, /CONFIGURE_METRICS.*ENABLED, DISABLED or CLEARED/);
});

Deno.test("admin /metrics shows the proxy's series per application and backend, capped", async () => {
  await using s = await setup({ metrics_max_series: 20 });
  for (let i = 0; i < 4; i++) await get(s.port, "app.test");
  const app = createAdminApp({
    statuses: () => [],
    process: () => ({
      rssBytes: 0,
      openFds: 0,
      loopLagSeconds: 0,
      loopLagMaxSeconds: 0,
      startTimeSeconds: 0,
    }),
    extraMetrics: () => s.h.service.metrics(),
  });
  const text = await waitFor(async () => {
    const body = await (await app.request("/metrics")).text();
    return body.includes('polyagent_sozu_application_requests_total{application="web"} 4')
      ? body
      : null;
  }, { timeoutMs: 10_000 });
  assert.match(text, /^polyagent_sozu_proxy_requests_total 4$/m);
  assert.match(text, /^polyagent_sozu_proxy_responses_total\{class="2xx"\} 4$/m);
  assert.match(text, /^# TYPE polyagent_sozu_proxy_response_seconds summary$/m);
  assert.match(text, /^polyagent_sozu_proxy_response_seconds\{quantile="0.99"\} [0-9.e-]+$/m);
  assert.match(text, /^polyagent_sozu_metrics_enabled 1$/m);
  // 20 series fit the application only: both backends' series are dropped and counted
  assert.doesNotMatch(text, /polyagent_sozu_backend_requests_total/);
  const dropped = Number(/^polyagent_sozu_metrics_series_dropped (\d+)$/m.exec(text)?.[1]);
  assert.ok(dropped > 0, "dropped series are counted");
  // every sample line belongs to a family declared once
  const types = [...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]);
  assert.equal(new Set(types).size, types.length);
});

Deno.test("admin /metrics labels every backend when the cap allows", async () => {
  await using s = await setup();
  for (let i = 0; i < 4; i++) await get(s.port, "app.test");
  const text = await waitFor(() => {
    const body = s.h.service.metrics();
    return body.includes('backend="b1"} 2') ? body : null;
  }, { timeoutMs: 10_000 });
  assert.match(
    text,
    /^polyagent_sozu_backend_requests_total\{application="web",backend="b0"\} 2$/m,
  );
  assert.match(text, /^polyagent_sozu_metrics_series_dropped 0$/m);
});

Deno.test("LOGGING changes the agent's level and the level workers forward", async () => {
  await using s = await setup();
  const lines = () => s.h.logs.map((l) => JSON.parse(l) as { level: string; msg: string });
  await order(s.c, "LOGGING", "error");
  await order(s.c, "ADD_BACKEND", {
    app_id: "web",
    backend_id: "dead",
    address: `127.0.0.1:${freePort()}`,
  });
  const before = s.h.logs.length;
  await order(s.c, "LOGGING", "sozu=debug,warn");
  assert.equal(s.h.logs.length, before, "the info line of a warn level is not written");
  await order(s.c, "LOGGING", "debug");
  assert.ok(lines().some((l) => l.msg === "log level changed"));
  // the workers now forward their debug lines: the dead backend's connect failure shows
  for (let i = 0; i < 6; i++) await get(s.port, "app.test");
  await waitFor(() =>
    lines().some((l) => l.level === "debug" && l.msg === "backend connect failed")
  );
  const bad = await send(s.c, "LOGGING", "loud");
  assert.equal(bad.status, "ERROR");
  assert.match(bad.message, /LOGGING: data: unknown log level/);
});

Deno.test("the access log writes one JSON line per request on the listeners that log", async () => {
  const other = freePort();
  // a relative path is under the agent's log directory (the harness's base directory)
  await using t = await setup({
    access_log: "access.log",
    access_log_listeners: [`127.0.0.1:${other}`],
  });
  const path = join(t.h.stateDir, "..", "access.log");
  await order(t.c, "ADD_HTTP_LISTENER", { front: `127.0.0.1:${other}` });
  await order(t.c, "ACTIVATE_LISTENER", {
    front: `127.0.0.1:${other}`,
    proxy: "http",
    from_scm: false,
  });
  await order(t.c, "ADD_HTTP_FRONT", {
    app_id: "web",
    address: `127.0.0.1:${other}`,
    hostname: "app.test",
  });
  await get(t.port, "app.test", "/not-logged");
  for (let i = 0; i < 3; i++) await get(other, "app.test", `/logged/${i}?q=1`);
  await get(other, "missing.test", "/x");
  const records = await waitFor(async () => {
    let text = "";
    try {
      text = await Deno.readTextFile(path);
    } catch {
      return null;
    }
    const list = text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
    return list.length >= 4 ? list : null;
  }, { timeoutMs: 10_000 });
  assert.equal(records.length, 4);
  assert.equal((await Deno.stat(path)).mode! & 0o777, 0o640);
  const first = records[0] as Record<string, unknown>;
  assert.deepEqual(
    Object.keys(first),
    [
      "time",
      "client",
      "listener",
      "method",
      "host",
      "path",
      "status",
      "bytes_in",
      "bytes_out",
      "duration_ms",
      "backend_ms",
      "app",
      "backend",
      "sozu_id",
    ],
  );
  assert.equal(first.path, "/logged/0?q=1");
  assert.equal(first.status, 200);
  assert.equal(first.app, "web");
  assert.match(String(first.backend), /^b[01]$/);
  assert.match(String(first.client), /^127\.0\.0\.1:\d+$/);
  assert.equal(first.listener, `127.0.0.1:${other}`);
  assert.ok((first.bytes_out as number) > 0 && (first.bytes_in as number) > 0);
  assert.equal(typeof first.duration_ms, "number");
  assert.equal(typeof first.backend_ms, "number");
  assert.match(String(first.sozu_id), /^[0-9A-Z]+-[0-9A-Z]+$/);
  assert.ok(!Number.isNaN(Date.parse(String(first.time))));
  const missing = records[3] as Record<string, unknown>;
  assert.equal(missing.status, 404);
  assert.equal(missing.app, null);
  assert.ok(records.every((r) => !String(r.path).includes("not-logged")));
});
