/**
 * Process facts: whether a pid is alive, and a start-time identity that guards against pid reuse
 * when a restarted agent re-adopts its Node. Deno's permission model refuses `/proc/<pid>` of other
 * processes without --allow-all, so the identity comes from /proc when readable and from
 * `ps -o stat=,lstart=` (argv, with a timeout) otherwise; liveness uses signal 0.
 */
import { runCommand } from "../../core/mod.ts";

/** What identifies a process instance. */
export interface ProcessIdentity {
  /** Its start time (clock ticks from /proc, or the `ps` lstart text). */
  startTime: string;
  zombie: boolean;
}

function fromProc(pid: number): ProcessIdentity | null | undefined {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    return undefined; // not readable under this permission set: ask ps
  }
  // The command name (field 2) may hold spaces and parentheses: split after the last ")".
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19]; // field 22 (starttime)
  if (state === undefined || startTime === undefined) return null;
  return { startTime: `ticks:${startTime}`, zombie: state === "Z" || state === "X" };
}

async function fromPs(pid: number): Promise<ProcessIdentity | null> {
  try {
    const result = await runCommand(["ps", "-o", "stat=,lstart=", "-p", String(pid)], {
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
export async function processIdentity(pid: number): Promise<ProcessIdentity | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const proc = fromProc(pid);
  if (proc !== undefined) return proc;
  return await fromPs(pid);
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
export async function isSameProcessAlive(pid: number, startTime: string | null): Promise<boolean> {
  if (!pidExists(pid)) return false;
  const identity = await processIdentity(pid);
  if (!identity || identity.zombie) return false;
  if (startTime === null) return true;
  // A record written under another permission set may use the other form: then pid only.
  if (startTime.split(":")[0] !== identity.startTime.split(":")[0]) return true;
  return identity.startTime === startTime;
}
