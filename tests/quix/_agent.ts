/** Starting the real agent with a `[quix]` section pointing at a test server. */
import { join } from "node:path";
import { type AgentProcess, freePort, spawnAgent } from "../_helpers/mod.ts";

/** Paths of one agent's world. */
export interface AgentWorld {
  dir: string;
  config: string;
  admin: number;
  ctlSocket: string;
  tokenFile: string;
}

/** Writes a config file for an agent talking to `url`. */
export async function writeConfig(
  dir: string,
  url: string,
  quix: Record<string, unknown> = {},
): Promise<AgentWorld> {
  const admin = freePort();
  const values: Record<string, unknown> = {
    enabled: true,
    server_url: url,
    allow_insecure: true,
    username: "quix123",
    password: "bright01",
    backoff_base_ms: 100,
    backoff_max_ms: 1000,
    superseded_backoff_ms: 2000,
    stable_after_ms: 60_000,
    heartbeat_ms: 0,
    idle_timeout_ms: 0,
    work_dir: join(dir, "work"),
    vpn: false,
    check_ms: 200,
    ...quix,
  };
  const toml = (v: unknown) => JSON.stringify(v);
  const lines = [
    "[agent]",
    `state_dir = ${toml(join(dir, "state"))}`,
    `run_dir = ${toml(join(dir, "run"))}`,
    `log_dir = ${toml(join(dir, "log"))}`,
    `log_format = "json"`,
    "[admin]",
    "enabled = true",
    `listen = "127.0.0.1:${admin}"`,
    "[quix]",
  ];
  const tables: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      tables.push(`[quix.${k}]`);
      for (const [tk, tv] of Object.entries(v)) tables.push(`${toml(tk)} = ${toml(tv)}`);
    } else lines.push(`${k} = ${toml(v)}`);
  }
  await Deno.mkdir(dir, { recursive: true });
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(config, [...lines, ...tables].join("\n") + "\n");
  return {
    dir,
    config,
    admin,
    ctlSocket: join(dir, "run", "quix.sock"),
    tokenFile: join(dir, "state", "quix-token.json"),
  };
}

/** Starts the agent and waits for its quix listener line. */
export async function startAgent(world: AgentWorld): Promise<AgentProcess> {
  const agent = spawnAgent({ args: ["serve", "--config", world.config] });
  await agent.waitForLine(/quix /, 30_000);
  return agent;
}

/** GET /healthz of the agent's admin endpoint; the quix service entry. */
export async function quixHealth(world: AgentWorld): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${world.admin}/healthz`);
  const body = await res.json() as {
    services: { name: string; detail?: Record<string, unknown> }[];
  };
  return body.services.find((s) => s.name === "quix")?.detail ?? {};
}

/** Runs `polyagent ctl quix …` and returns stdout and the exit code. */
export async function ctl(
  world: AgentWorld,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", "-P=agent", "main.ts", "ctl", "--config", world.config, "quix", ...args],
    cwd: new URL("../../", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}
