/**
 * Starting one command: resolving argv[0] (PATH search, or relative to the work folder) against
 * the allow-list, and spawning it without a shell with stdout and stderr on its own log file.
 *
 * Why node:child_process: it is the one spawn API in Deno 2.9 that hands a file descriptor to the
 * child (`stdio: ["ignore", fd, fd]`). The child then writes to its log file itself, so it
 * survives the agent (no pipe, no SIGPIPE) and needs no helper process, and a child started by
 * this agent instance is a real child, so its exit status is exact.
 */
import { spawn as nodeSpawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { FailedError, ForbiddenError, type Logger } from "../../core/mod.ts";
import { removeLogs } from "./log_files.ts";
import type { ExitRecord } from "./records.ts";

/** The `reason` of the {@linkcode FailedError} thrown when a command cannot be started. */
export const SPAWN_FAILED = "spawn";

const LOG_NAME = /[^A-Za-z0-9._-]/g;

/** Where a command is looked up. */
export interface CommandLookup {
  workDir: string;
  /** The children's PATH. */
  path: string | undefined;
  /** Allowed argv[0] values (names or absolute paths); empty = any. */
  allowed: readonly string[];
}

/** The executable `argv0` names; throws ForbiddenError (not allowed) or FailedError (not found). */
export function resolveCommand(argv0: string, lookup: CommandLookup): string {
  let path: string | null = null;
  if (argv0.includes("/")) {
    path = argv0.startsWith("/") ? argv0 : join(lookup.workDir, argv0);
    if (!isExecutable(path)) path = null;
  } else {
    const dirs = (lookup.path ?? "/usr/bin:/bin").split(":").filter((d) => d.startsWith("/"));
    path = dirs.map((dir) => join(dir, argv0)).find(isExecutable) ?? null;
  }
  const allowed = lookup.allowed;
  if (allowed.length > 0 && !allowed.includes(argv0) && !(path && allowed.includes(path))) {
    throw new ForbiddenError(`Command "${argv0}" is not in quix.allowed_commands`);
  }
  if (!path) {
    throw new FailedError(`Command "${argv0}" not found or not executable`, {
      reason: SPAWN_FAILED,
    });
  }
  return path;
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** A fresh log file name for a command started now. */
export function logFileFor(logDir: string, argv0: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const base = (argv0.split("/").pop() ?? "proc").replace(LOG_NAME, "_").slice(0, 40);
  return join(logDir, `${base}-${stamp}-${crypto.randomUUID().slice(0, 8)}.log`);
}

/** What {@linkcode spawnWithLog} starts. */
export interface SpawnRequest {
  /** The resolved executable. */
  path: string;
  argv: readonly string[];
  cwd: string;
  env: Record<string, string>;
  account: { uid: number; gid: number } | null;
  logPath: string;
  log: Logger;
}

/** A started child. */
export interface SpawnedChild {
  pid: number;
  /** Calls `listener` once the child exits (at once when it already has). */
  onExit(listener: (exit: ExitRecord) => void): void;
}

/** Starts a detached child (its own process group) writing to `logPath`; resolves once it runs. */
export async function spawnWithLog(request: SpawnRequest): Promise<SpawnedChild> {
  const { argv, logPath, account } = request;
  let fd: number;
  try {
    fd = openSync(logPath, "a", 0o640);
  } catch (error) {
    throw new FailedError(`Cannot open log file "${logPath}"`, {
      reason: SPAWN_FAILED,
      cause: error,
    });
  }
  let child: ReturnType<typeof nodeSpawn>;
  let exited: ExitRecord | null = null;
  let listener: ((exit: ExitRecord) => void) | null = null;
  try {
    child = nodeSpawn(request.path, argv.slice(1), {
      cwd: request.cwd,
      env: request.env,
      stdio: ["ignore", fd, fd],
      detached: true,
      ...(account ? { uid: account.uid, gid: account.gid } : {}),
    });
    // Listen for the exit before anything else is awaited: a short-lived child may be gone
    // before its record exists.
    child.once("exit", (code, signal) => {
      exited = { code: code ?? null, signal: signal ?? null, at: Date.now(), source: "wait" };
      listener?.(exited);
    });
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", () => resolve());
      child.once("error", (e) => reject(e));
    });
  } catch (error) {
    await removeLogs(logPath, 0);
    throw new FailedError(`Cannot start "${argv[0]}": ${(error as Error).message}`, {
      reason: SPAWN_FAILED,
      cause: error,
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid!;
  child.on("error", (error) => request.log.warn("process error", { pid, error }));
  child.unref();
  return {
    pid,
    onExit(l) {
      listener = l;
      if (exited) l(exited);
    },
  };
}
