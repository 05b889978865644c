import assert from "node:assert/strict";
import {
  agentSchema,
  createLogger,
  flag,
  runCommand,
  section,
  type ServiceDefinition,
  Supervisor,
} from "../../lib/core/mod.ts";
import { adminDefinition, createAdminApp } from "../../lib/protocols/admin/mod.ts";
import { freePort, tempDir } from "../_helpers/mod.ts";

const broken: ServiceDefinition = {
  name: "broken",
  summary: "never starts",
  configSchema: () => section({ enabled: flag().default(true) }),
  create: () => ({
    start: () => Promise.reject(new Error("no backend")),
    stop: () => Promise.resolve(),
  }),
};

async function withAgent(
  services: Record<string, { enabled: boolean } & Record<string, unknown>>,
  defs: ServiceDefinition[],
  fn: (base: string) => Promise<void>,
): Promise<void> {
  await using dir = await tempDir("admin");
  const port = freePort();
  services.admin = { enabled: true, listen: `127.0.0.1:${port}` };
  const sup = new Supervisor({
    config: {
      agent: agentSchema().parse({
        state_dir: `${dir.path}/s`,
        run_dir: `${dir.path}/r`,
        log_dir: `${dir.path}/l`,
      }),
      services,
      source: "test",
    },
    definitions: [adminDefinition as ServiceDefinition, ...defs],
    log: createLogger("agent", { format: "json", sink: () => {} }),
    runner: runCommand,
    backoffBaseMs: 60_000,
  });
  await sup.start();
  try {
    await fn(`http://127.0.0.1:${port}`);
  } finally {
    await sup.stop();
  }
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
