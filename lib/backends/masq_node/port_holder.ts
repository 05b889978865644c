/** Who holds a TCP port: `ss -Hltnp 'sport = :N'` through the injected runner. */
import type { CommandRunner } from "../../core/mod.ts";

/** `"python3" (pid 123)` for each process in the `users:((…))` column of `ss -p` lines. */
export function parseSsHolders(text: string): string[] {
  const holders: string[] = [];
  for (const m of text.matchAll(/\("([^"]*)",pid=(\d+),fd=\d+\)/g)) {
    const holder = `"${m[1]}" (pid ${m[2]})`;
    if (!holders.includes(holder)) holders.push(holder);
  }
  return holders;
}

/**
 * Who listens on TCP `port`, as `"name" (pid N)`, comma-separated; "" when `ss` shows nobody or
 * cannot run (another user's processes need root to be named).
 */
export async function portHolder(port: number, runner: CommandRunner): Promise<string> {
  try {
    const result = await runner(["ss", "-Hltnp", `sport = :${port}`], {
      timeoutMs: 3000,
      check: false,
      processGroup: false,
    });
    return parseSsHolders(result.stdout).join(", ");
  } catch {
    return "";
  }
}
