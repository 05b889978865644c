import assert from "node:assert/strict";
import { join } from "node:path";
import {
  ConfigError,
  configToToml,
  flag,
  loadConfig,
  section,
  type ServiceDefinition,
  text,
  wholeNumber,
} from "../../lib/core/mod.ts";
import { tempDir } from "../_helpers/mod.ts";
import { SERVICE_DEFINITIONS } from "../../lib/services.ts";

const fakeSozu: ServiceDefinition<
  { enabled: boolean; worker_count: number; command_socket: string }
> = {
  name: "sozu",
  summary: "test",
  configSchema: () =>
    section({
      enabled: flag().default(false),
      worker_count: wholeNumber(1, 64).default(1),
      command_socket: text().default("/run/polyagent/sozu.sock"),
    }),
  create: () => ({ start: async () => {}, stop: async () => {} }),
};
const definitions = [fakeSozu];
const noEnv = () => undefined;

async function configFile(dir: string, content: string): Promise<string> {
  const path = join(dir, "polyagent.toml");
  await Deno.writeTextFile(path, content);
  return path;
}

async function loadError(options: Parameters<typeof loadConfig>[0]): Promise<string> {
  try {
    await loadConfig(options);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    return error.message;
  }
  assert.fail("expected the config to be refused");
}

Deno.test("loadConfig() fills every default when the file is absent", async () => {
  const config = await loadConfig({ file: undefined, env: noEnv, definitions });
  assert.equal(config.agent.state_dir, "/var/lib/polyagent");
  assert.equal(config.agent.shutdown_timeout_ms, 2000);
  assert.deepEqual(config.services.sozu, {
    enabled: false,
    worker_count: 1,
    command_socket: "/run/polyagent/sozu.sock",
  });
});

Deno.test("loadConfig() names the file and line of a TOML syntax error", async () => {
  await using dir = await tempDir("cfg");
  const file = await configFile(dir.path, '[agent]\nlog_level = "info"\nstate_dir = \n');
  const message = await loadError({ file, env: noEnv, definitions });
  assert.match(message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:\\d+: `));
});

Deno.test("loadConfig() names the key path and what was expected for a wrong type", async () => {
  await using dir = await tempDir("cfg");
  const file = await configFile(dir.path, '[sozu]\nworker_count = "two"\n');
  const message = await loadError({ file, env: noEnv, definitions });
  assert.equal(
    message,
    `${file}: sozu.worker_count: expected a whole number from 1 to 64, got "two"`,
  );
});

Deno.test("loadConfig() refuses an out-of-range value", async () => {
  await using dir = await tempDir("cfg");
  const file = await configFile(dir.path, "[sozu]\nworker_count = 65\n");
  const message = await loadError({ file, env: noEnv, definitions });
  assert.equal(message, `${file}: sozu.worker_count: expected a whole number from 1 to 64, got 65`);
});

Deno.test("loadConfig() suggests the nearest key for an unknown key and section", async () => {
  await using dir = await tempDir("cfg");
  const file = await configFile(dir.path, "[sozu]\nwroker_count = 2\n[agnet]\n");
  const message = await loadError({ file, env: noEnv, definitions });
  assert.equal(
    message,
    [
      `${file}: sozu.wroker_count: unknown key, did you mean "worker_count"?`,
      `${file}: agnet: unknown section, did you mean "agent"?`,
    ].join("\n"),
  );
});

Deno.test("loadConfig() reports a missing explicit file", async () => {
  const message = await loadError({ file: "/nonexistent/polyagent.toml", env: noEnv, definitions });
  assert.equal(message, "/nonexistent/polyagent.toml: no such file");
});

Deno.test("loadConfig() applies environment then --set overrides over the file", async () => {
  await using dir = await tempDir("cfg");
  const file = await configFile(dir.path, "[sozu]\nworker_count = 2\nenabled = false\n");
  const env = (name: string) =>
    ({
      POLYAGENT_SOZU_WORKER_COUNT: "3",
      POLYAGENT_SOZU_ENABLED: "true",
      POLYAGENT_AGENT_LOG_LEVEL: "debug",
      POLYAGENT_SOZU_COMMAND_SOCKET: "123",
    })[name];
  const config = await loadConfig({ file, env, sets: ["sozu.worker_count=4"], definitions });
  assert.equal(config.services.sozu!.worker_count, 4);
  assert.equal(config.services.sozu!.enabled, true);
  assert.equal(config.services.sozu!.command_socket, "123", "string keys keep the text as it is");
  assert.equal(config.agent.log_level, "debug");
});

Deno.test("loadConfig() refuses a malformed --set and an unknown --set key", async () => {
  assert.equal(
    await loadError({ file: undefined, env: noEnv, sets: ["sozu"], definitions }),
    "--set sozu: expected section.key=value",
  );
  assert.equal(
    await loadError({ file: undefined, env: noEnv, sets: ["sozu.workers=2"], definitions }),
    `built-in defaults: sozu.workers: unknown key, did you mean "worker_count"?`,
  );
});

Deno.test("configToToml() round-trips through loadConfig()", async () => {
  await using dir = await tempDir("cfg");
  const config = await loadConfig({
    file: undefined,
    env: noEnv,
    sets: ["sozu.worker_count=7"],
    definitions,
  });
  const file = await configFile(dir.path, configToToml(config));
  const again = await loadConfig({ file, env: noEnv, definitions });
  assert.deepEqual(again.services, config.services);
  assert.deepEqual(again.agent, config.agent);
});

Deno.test('loadConfig({ sections: "used" }) builds only the sections the config names', async () => {
  await using dir = await tempDir("cfg");
  const built: string[] = [];
  const counted = (name: string, enabledByDefault = false): ServiceDefinition => ({
    name,
    summary: "test",
    ...(enabledByDefault ? { enabledByDefault } : {}),
    configSchema: async () => {
      built.push(name);
      return await Promise.resolve(section({ enabled: flag().default(enabledByDefault) }));
    },
    create: () => ({ start: async () => {}, stop: async () => {} }),
  });
  const defs = [
    counted("always", true),
    counted("infile"),
    counted("byset"),
    counted("byenv"),
    counted("absent"),
  ];
  const file = await configFile(dir.path, "[infile]\nenabled = true\n");
  const env = (name: string) => name === "POLYAGENT_BYENV_ENABLED" ? "true" : undefined;
  const config = await loadConfig({
    file,
    env,
    sets: ["byset.enabled=true"],
    definitions: defs,
    sections: "used",
  });
  assert.deepEqual(built.sort(), ["always", "byenv", "byset", "infile"]);
  assert.deepEqual(
    Object.fromEntries(Object.entries(config.services).map(([k, v]) => [k, v.enabled])),
    { always: true, infile: true, byset: true, byenv: true, absent: false },
  );

  built.length = 0;
  await loadConfig({ file, env, definitions: defs });
  assert.equal(built.length, defs.length, 'the default ("all") builds every section');
});

Deno.test("every compiled-in service's enabledByDefault matches its schema's default", async () => {
  // serve skips the sections of services disabled by default, so the two must agree.
  for (const def of SERVICE_DEFINITIONS) {
    const section = (await def.configSchema()).parse({});
    assert.equal(section.enabled, def.enabledByDefault ?? false, def.name);
  }
});
