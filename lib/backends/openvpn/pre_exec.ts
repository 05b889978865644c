/**
 * The per-profile `pre-connect-exec` command: split on spaces (no shell), run as the configured
 * user in `/` with a timeout that kills its whole process group, output appended to the openvpn
 * log.
 */
import { CommandError, type CommandRunner } from "../../core/mod.ts";

/** Outcome of a pre-exec command. */
export interface PreExecResult {
  /** Exit status; 128+9 when it was killed at the timeout, 127 when it could not start. */
  status: number;
  timedOut: boolean;
  message: string;
}

/** uid/gid of a user name (or numeric id) from /etc/passwd, or null. */
export function lookupUser(name: string): { uid: number; gid: number } | null {
  if (/^\d+$/.test(name)) return { uid: Number(name), gid: Number(name) };
  try {
    for (const line of Deno.readTextFileSync("/etc/passwd").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  } catch {
    // no passwd file
  }
  return null;
}

/** Runs `command` and reports its status (never throws). */
export async function runPreExec(
  runner: CommandRunner,
  command: string,
  options: {
    timeoutMs: number;
    user: { uid: number; gid: number } | null;
    logFile: string;
    signal?: AbortSignal;
  },
): Promise<PreExecResult> {
  const argv = command.split(" ").filter((s) => s !== "");
  if (argv.length === 0) return { status: 0, timedOut: false, message: "empty command" };
  let result: PreExecResult;
  let output = "";
  try {
    const r = await runner(argv, {
      timeoutMs: options.timeoutMs,
      check: false,
      maxOutput: 64 * 1024,
      // a daemon's child starts in "/": the agent's own directory may be closed to the user
      cwd: "/",
      ...(options.user ? { uid: options.user.uid, gid: options.user.gid } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    output = r.stdout + r.stderr;
    result = {
      status: r.signal ? 128 + signalNumber(r.signal) : r.code,
      timedOut: false,
      message: r.code === 0 ? "ok" : `exited with status ${r.code}`,
    };
  } catch (error) {
    if (error instanceof CommandError && error.timedOut) {
      output = error.stdout + error.stderrTail;
      result = {
        status: 128 + 9,
        timedOut: true,
        message: `killed after the ${options.timeoutMs} ms timeout`,
      };
    } else {
      result = { status: 127, timedOut: false, message: (error as Error).message };
    }
  }
  const stamp = new Date().toISOString();
  const text = `${stamp} pre-connect-exec "${command}": ${result.message}\n${output}`;
  await Deno.writeTextFile(options.logFile, text.endsWith("\n") ? text : text + "\n", {
    append: true,
    create: true,
    mode: 0o600,
  }).catch(() => {});
  return result;
}

function signalNumber(signal: Deno.Signal): number {
  const table: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };
  return table[signal] ?? 0;
}

/** gid of a group name (or numeric id) from /etc/group, or null. */
export function lookupGroup(name: string): number | null {
  if (/^\d+$/.test(name)) return Number(name);
  try {
    for (const line of Deno.readTextFileSync("/etc/group").split("\n")) {
      const f = line.split(":");
      if (f[0] === name && f.length >= 3) return Number(f[2]);
    }
  } catch {
    // no group file
  }
  return null;
}
