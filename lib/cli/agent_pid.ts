/**
 * The agent's pid file (`agent.pid_file`), what systemd's `PIDFile=` and OpenRC read to know the
 * main process: written once the agent serves (by a successor once it has taken over), removed at
 * a normal stop only while it still names this process.
 */
import { dirname, resolve } from "node:path";
import { writeFileAtomic } from "../core/mod.ts";

/** Writes this process's pid to `path` ("" = no pid file). */
export async function writeAgentPid(path: string): Promise<void> {
  if (!path) return;
  await Deno.mkdir(dirname(resolve(path)), { recursive: true });
  await writeFileAtomic(path, `${Deno.pid}\n`, { mode: 0o644 });
}

/** Removes the pid file when it still names this process. */
export async function removeAgentPid(path: string): Promise<void> {
  if (!path) return;
  const text = await Deno.readTextFile(path).catch(() => "");
  if (text.trim() === String(Deno.pid)) await Deno.remove(path).catch(() => {});
}
