/**
 * Process facts: whether a pid is alive, and a start-time identity that guards against pid reuse
 * when a restarted agent re-adopts its Node. The identity is field 22 of `/proc/<pid>/stat`, read
 * through the injected runner by the shared /proc reader (Deno refuses `/proc/<pid>` of other
 * processes without --allow-all) and parsed by its one stat parser; when that reader cannot run,
 * `ps -o stat=,lstart=` (argv, with a timeout) answers instead. Liveness uses signal 0.
 */
import type { CommandRunner } from "../../core/mod.ts";
import { parseStat, readProcFile, statPath } from "../procfs/mod.ts";

/** What identifies a process instance. */
export interface ProcessIdentity {
  /** Its start time (`ticks:<clock ticks>` from /proc, or `lstart:<text>` from `ps`). */
  startTime: string;
  zombie: boolean;
}

/** From /proc: the identity, null when there is no such process, undefined when unreadable. */
async function fromProc(
  pid: number,
  runner: CommandRunner,
): Promise<ProcessIdentity | null | undefined> {
  let text: string | null;
  try {
    text = await readProcFile(statPath(pid), { runner, timeoutMs: 3000 });
  } catch {
    return undefined; // the reader could not run: ask ps
  }
  const stat = parseStat(text ?? undefined);
  if (stat === null) return null;
  return { startTime: `ticks:${stat.startTime}`, zombie: stat.state === "Z" || stat.state === "X" };
}

async function fromPs(pid: number, runner: CommandRunner): Promise<ProcessIdentity | null> {
  try {
    const result = await runner(["ps", "-o", "stat=,lstart=", "-p", String(pid)], {
      timeoutMs: 3000,
      check: false,
      env: { LC_ALL: "C" },
    });
    const line = result.stdout.trim();
    if (result.code !== 0 || !line) return null;
    const [stat = "", ...start] = line.split(/\s+/);
    return { startTime: `lstart:${start.join(" ")}`, zombie: stat.startsWith("Z") };
  } catch {
    return null;
  }
}

/** The identity of `pid`, or null when there is no such process. */
export async function processIdentity(
  pid: number,
  runner: CommandRunner,
): Promise<ProcessIdentity | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const proc = await fromProc(pid, runner);
  if (proc !== undefined) return proc;
  return await fromPs(pid, runner);
}

/** Whether a process with this pid exists (signal 0; a zombie still counts). Cheap. */
export function pidExists(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    Deno.kill(pid, 0 as unknown as Deno.Signal);
    return true;
  } catch (error) {
    // EPERM means it exists but belongs to someone else.
    return error instanceof Deno.errors.PermissionDenied;
  }
}

/** Whether `pid` is alive (not a zombie) and, when `startTime` is given, the same instance. */
export async function isSameProcessAlive(
  pid: number,
  startTime: string | null,
  runner: CommandRunner,
): Promise<boolean> {
  if (!pidExists(pid)) return false;
  const identity = await processIdentity(pid, runner);
  if (!identity || identity.zombie) return false;
  if (startTime === null) return true;
  // A record written under another permission set may use the other form: then pid only.
  if (startTime.split(":")[0] !== identity.startTime.split(":")[0]) return true;
  return identity.startTime === startTime;
}
