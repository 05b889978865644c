/** Spawning the real agent with only admin and sozu enabled, on a temporary directory. */
import { join } from "node:path";
import {
  type AgentProcess,
  agentSection,
  freePort,
  polyagent,
  spawnAgent,
} from "../_helpers/mod.ts";

/** Paths of an agent's config. */
export interface AgentFiles {
  config: string;
  socket: string;
  stateDir: string;
  adminPort: number;
}

/** Writes a config under `dir` (extra lines go into [sozu]). */
export async function writeAgentConfig(dir: string, sozuLines: string[] = []): Promise<AgentFiles> {
  const adminPort = freePort();
  const socket = join(dir, "run", "sozu.sock");
  const stateDir = join(dir, "state");
  const config = join(dir, "agent.toml");
  await Deno.writeTextFile(
    config,
    agentSection(dir, { log_level: "info" }) + [
      "[admin]",
      `listen = "127.0.0.1:${adminPort}"`,
      "[sozu]",
      "enabled = true",
      `command_socket = "${socket}"`,
      ...sozuLines,
      "",
    ].join("\n"),
  );
  return { config, socket, stateDir, adminPort };
}

/** Starts the agent and waits for the sozu socket line. */
export async function startAgent(files: AgentFiles): Promise<AgentProcess> {
  const agent = spawnAgent({ args: ["serve", "--config", files.config] });
  try {
    await agent.waitForLine(/^sozu\s+\S*sozu\.sock/, 30_000);
  } catch (error) {
    await agent[Symbol.asyncDispose]();
    throw error;
  }
  return agent;
}

/** Runs `polyagent ctl --config <file> sozu …args`. */
export function ctl(
  files: AgentFiles | null,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return polyagent(["ctl", ...(files ? ["--config", files.config] : []), "sozu", ...args]);
}
