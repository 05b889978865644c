import assert from "node:assert/strict";
import {
  type AgentConfig,
  agentSchema,
  createLogger,
  flag,
  runCommand,
  section,
  type Service,
  type ServiceContext,
  type ServiceDefinition,
  ServiceStartError,
  Supervisor,
} from "../../lib/core/mod.ts";
import { tempDir, waitFor } from "../_helpers/mod.ts";

type Events = string[];

function definition(
  name: string,
  events: Events,
  behaviour: { failStart?: boolean; onStart?: (ctx: ServiceContext<unknown>) => void } = {},
): ServiceDefinition {
  return {
    name,
    summary: name,
    configSchema: () => section({ enabled: flag().default(true) }),
    create: (): Service<unknown> => ({
      start: (ctx) => {
        events.push(`start ${name}`);
        if (behaviour.failStart) return Promise.reject(new Error(`${name} cannot start`));
        ctx.listening(`test://${name}`);
        behaviour.onStart?.(ctx);
        return Promise.resolve();
      },
      stop: (reason) => {
        events.push(`stop ${name} ${reason}`);
        return Promise.resolve();
      },
    }),
  };
}

function config(
  dir: string,
  names: string[],
  agent: Record<string, unknown> = {},
): AgentConfig {
  return {
    agent: agentSchema().parse({
      state_dir: `${dir}/state`,
      run_dir: `${dir}/run`,
      log_dir: `${dir}/log`,
      ...agent,
    }),
    services: Object.fromEntries(names.map((n) => [n, { enabled: true }])),
    source: "test",
  };
}

function supervisor(cfg: AgentConfig, defs: ServiceDefinition[], lines: string[] = []): Supervisor {
  return new Supervisor({
    config: cfg,
    definitions: defs,
    log: createLogger("agent", { format: "json", sink: (l) => lines.push(l) }),
    runner: runCommand,
    backoffBaseMs: 20,
  });
}

Deno.test("Supervisor starts in order and stops in reverse order", async () => {
  await using dir = await tempDir("sup");
  const events: Events = [];
  const defs = ["a", "b", "c"].map((n) => definition(n, events));
  const sup = supervisor(await config(dir.path, ["a", "b", "c"]), defs);
  await sup.start();
  assert.deepEqual(sup.statuses().map((s) => s.state), ["running", "running", "running"]);
  await sup.stop();
  assert.deepEqual(events, [
    "start a",
    "start b",
    "start c",
    "stop c shutdown",
    "stop b shutdown",
    "stop a shutdown",
  ]);
  assert.deepEqual(sup.statuses().map((s) => s.state), ["stopped", "stopped", "stopped"]);
});

Deno.test("Supervisor keeps other services running when one throws in start, and retries it", async () => {
  await using dir = await tempDir("sup");
  const events: Events = [];
  const lines: string[] = [];
  const defs = [
    definition("a", events),
    definition("bad", events, { failStart: true }),
    definition("c", events),
  ];
  const sup = supervisor(await config(dir.path, ["a", "bad", "c"]), defs, lines);
  await sup.start();
  const byName = Object.fromEntries(sup.statuses().map((s) => [s.name, s]));
  assert.equal(byName.a!.state, "running");
  assert.equal(byName.c!.state, "running");
  assert.ok(["failed", "backoff"].includes(byName.bad!.state));
  assert.equal(byName.bad!.lastError, "bad cannot start");
  assert.ok(events.includes("stop bad start-failed"), "stop runs after a failed start");
  await waitFor(() => events.filter((e) => e === "start bad").length >= 2, { what: "a retry" });
  await sup.stop();
  assert.match(lines.join("\n"), /service failed to start/);
});

Deno.test("Supervisor with fail_fast throws ServiceStartError", async () => {
  await using dir = await tempDir("sup");
  const events: Events = [];
  const sup = supervisor(await config(dir.path, ["bad"], { fail_fast: true }), [
    definition("bad", events, { failStart: true }),
  ]);
  await assert.rejects(() => sup.start(), ServiceStartError);
  await sup.stop();
});

Deno.test("Supervisor restarts a service that crashes later, with backoff, and logs it", async () => {
  await using dir = await tempDir("sup");
  const events: Events = [];
  const lines: string[] = [];
  let crashes = 0;
  const def = definition("flaky", events, {
    onStart: (ctx) => {
      if (crashes < 2) {
        crashes++;
        setTimeout(() => ctx.fail(new Error("boom")), 5);
      }
    },
  });
  const sup = supervisor(await config(dir.path, ["flaky"]), [def], lines);
  await sup.start();
  await waitFor(() => sup.statuses()[0]!.restarts === 2 && sup.statuses()[0]!.state === "running", {
    what: "two restarts",
  });
  await sup.stop();
  const log = lines.map((l) => JSON.parse(l));
  assert.ok(log.some((l) => l.msg === "service crashed" && l.error === "boom"));
  const delays = log.filter((l) => l.msg === "restarting service after backoff").map((l) =>
    l.delayMs
  );
  assert.deepEqual(delays, [20, 40], "exponential backoff");
  assert.equal(events.filter((e) => e === "start flaky").length, 3);
});

Deno.test("Supervisor leaves disabled services alone", async () => {
  await using dir = await tempDir("sup");
  const events: Events = [];
  const cfg = await config(dir.path, ["a"]);
  cfg.services.b = { enabled: false };
  const sup = supervisor(cfg, [definition("a", events), definition("b", events)]);
  await sup.start();
  await sup.stop();
  assert.deepEqual(events, ["start a", "stop a shutdown"]);
});

Deno.test("Supervisor gives up on a stop that hangs once the budget is spent", async () => {
  await using dir = await tempDir("sup");
  const hang: ServiceDefinition = {
    name: "hang",
    summary: "hang",
    configSchema: () => section({ enabled: flag().default(true) }),
    create: () => ({ start: () => Promise.resolve(), stop: () => new Promise(() => {}) }),
  };
  const sup = supervisor(await config(dir.path, ["hang"], { shutdown_timeout_ms: 200 }), [hang]);
  await sup.start();
  const t0 = performance.now();
  await sup.stop();
  assert.ok(performance.now() - t0 < 1500);
});

Deno.test("Supervisor creates missing agent dirs 0750 without narrowing their parents", async () => {
  await using dir = await tempDir("sup");
  const cfg = config(`${dir.path}/a/b`, []);
  const sup = supervisor(cfg, []);
  await sup.start();
  await sup.stop();
  assert.equal((await Deno.stat(`${dir.path}/a/b/state`)).mode! & 0o777, 0o750);
  assert.equal((await Deno.stat(`${dir.path}/a`)).mode! & 0o777, 0o755);
});
