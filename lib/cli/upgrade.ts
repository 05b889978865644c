/**
 * `polyagent upgrade [--binary FILE]`: asks the running agent (through its control socket,
 * `<run_dir>/polyagent.sock`) to replace itself with a new process without dropping anything,
 * prints each step, and exits 0 once the successor has taken over (1 with the reason when the
 * upgrade failed and the old agent carries on). systemd's `ExecReload` runs it.
 */
import { resolve } from "node:path";
import {
  type AgentConfig,
  type AgentReply,
  agentReplySchema,
  agentSocketPath,
  JsonLines,
  nextWithin,
} from "../core/mod.ts";
import { ExitStatus } from "./extension.ts";

/** Options of the `upgrade` command. */
export interface UpgradeCommandOptions {
  binary?: string;
  socket?: string;
  /** @default {120000} */
  timeoutMs?: number;
  json?: boolean;
}

/** Runs the upgrade through the agent's control socket; throws {@linkcode ExitStatus} on failure. */
export async function runUpgradeCommand(
  config: AgentConfig,
  options: UpgradeCommandOptions,
  print: (line: string) => void,
): Promise<void> {
  const path = options.socket ?? agentSocketPath(config.agent.run_dir);
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (error) {
    console.error(`polyagent: no agent answers on "${path}": ${(error as Error).message}`);
    throw new ExitStatus(1);
  }
  const peer = new JsonLines(conn, agentReplySchema);
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  try {
    await peer.send({ op: "upgrade", binary: options.binary ? resolve(options.binary) : null });
    for (;;) {
      const reply: AgentReply | null = await nextWithin(
        peer,
        Math.max(1, deadline - Date.now()),
        "answer from the agent",
      );
      if (reply === null) throw new Error("the agent closed the connection without an answer");
      print(options.json ? JSON.stringify(reply) : `${reply.status.padEnd(10)} ${reply.message}`);
      if (reply.status === "OK") return;
      if (reply.status === "ERROR") throw new ExitStatus(1);
    }
  } catch (error) {
    if (error instanceof ExitStatus) throw error;
    console.error(`polyagent: upgrade: ${(error as Error).message}`);
    throw new ExitStatus(1);
  } finally {
    peer.close();
  }
}
