import assert from "node:assert/strict";
import { flag, section, type ServiceDefinition } from "../../lib/core/mod.ts";
import { createAdminApp } from "../../lib/protocols/admin/mod.ts";
import { withAgent as withSupervised } from "./_supervised.ts";

const broken: ServiceDefinition = {
  name: "broken",
  summary: "never starts",
  configSchema: () => section({ enabled: flag().default(true) }),
  create: () => ({
    start: () => Promise.reject(new Error("no backend")),
    stop: () => Promise.resolve(),
  }),
};

/** The admin tests' agent, with the base URL only. */
function withAgent(
  services: Record<string, { enabled: boolean } & Record<string, unknown>>,
  defs: ServiceDefinition[],
  fn: (base: string) => Promise<void>,
): Promise<void> {
  return withSupervised(services, defs, (agent) => fn(agent.base));
}

Deno.test("GET /healthz over HTTP is 200 with each service's state when all are up", async () => {
  await withAgent({}, [], async (base) => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, "ok");
    assert.equal(body.services.length, 1);
    assert.equal(body.services[0].name, "admin");
    assert.equal(body.services[0].state, "running");
    assert.equal(body.services[0].restarts, 0);
    assert.equal(typeof body.services[0].uptimeSeconds, "number");
  });
});

Deno.test("GET /healthz is 503 when an enabled service is not up", async () => {
  await withAgent({ broken: { enabled: true } }, [broken], async (base) => {
    const res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 503);
    const body = await res.json();
    const b = body.services.find((s: { name: string }) => s.name === "broken");
    assert.equal(b.up, false);
    assert.equal(b.lastError, "no backend");
  });
});

Deno.test("GET /metrics over HTTP is Prometheus text with service and process figures", async () => {
  await withAgent({ broken: { enabled: true } }, [broken], async (base) => {
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /^polyagent_service_up\{service="admin"\} 1$/m);
    assert.match(text, /^polyagent_service_up\{service="broken"\} 0$/m);
    assert.match(text, /^polyagent_service_restarts_total\{service="admin"\} 0$/m);
    assert.match(text, /^polyagent_service_start_time_seconds\{service="admin"\} \d+(\.\d+)?$/m);
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
    assert.match(text, /^process_open_fds \d+$/m);
    assert.match(text, /^polyagent_event_loop_lag_seconds [\d.e-]+$/m);
    for (const line of text.trim().split("\n")) {
      assert.match(
        line,
        /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[\d.e+-]+)$/,
        `valid exposition line: ${line}`,
      );
    }
  });
});

Deno.test("createAdminApp() answers unknown paths with 404 JSON", async () => {
  const app = createAdminApp({
    statuses: () => [],
    process: () => ({
      rssBytes: 1,
      openFds: 1,
      loopLagSeconds: 0,
      loopLagMaxSeconds: 0,
      startTimeSeconds: 0,
    }),
    extraMetrics: () => "",
  });
  const res = await app.request("/nope");
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { error: "not found" });
});
