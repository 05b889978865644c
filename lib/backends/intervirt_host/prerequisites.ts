/** What the host offers: root, and which of the tools the agent shells out to are on PATH. */
import { join } from "node:path";

/** Finds an executable on PATH, or null. */
export function findExecutable(name: string): string | null {
  const path = Deno.env.get("PATH") ??
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const dir of [...path.split(":"), "/usr/sbin", "/sbin"]) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(join(dir, name));
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return join(dir, name);
    } catch {
      // not here
    }
  }
  return null;
}

/** Names what is missing for the agent to manage containers: root and tools. Empty when ready. */
export function missingPrerequisites(tools: readonly string[]): string[] {
  const out: string[] = [];
  if (Deno.uid() !== 0) out.push("root privileges (the agent runs as uid " + Deno.uid() + ")");
  for (const tool of tools) {
    if (!findExecutable(tool)) out.push(`the "${tool}" command`);
  }
  return out;
}
