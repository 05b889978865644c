/**
 * The daemon's own pid files: the real clients read them and send SIGUSR1 to that pid to reload
 * the profiles (`/var/run/cryptoded/cryptoded.pid` for cryptode v1.x, `/var/run/rvd.pid` for rvc).
 */
import { dirname } from "node:path";
import { writeFileAtomic } from "../../core/mod.ts";

/** Writes `pid` to `path` (0644, atomic), creating its directory (0755) when missing. */
export async function writeDaemonPidFile(path: string, pid: number): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
  await writeFileAtomic(path, `${pid}\n`, { mode: 0o644 });
}

/** Removes `path` when it still names `pid` (another process's pid file is left alone). */
export async function removeDaemonPidFile(path: string, pid: number): Promise<void> {
  try {
    if ((await Deno.readTextFile(path)).trim() === String(pid)) await Deno.remove(path);
  } catch {
    // gone or unreadable: nothing of ours to remove
  }
}
