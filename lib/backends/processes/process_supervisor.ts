/**
 * The process supervisor: starts argv directly (no shell) in a work folder, optionally as another
 * user, with a limited environment and stdout/stderr on a per-process log file (spawn.ts);
 * remembers every process durably (pid + /proc start time, records.ts) so a restarted agent
 * re-adopts the ones still alive; records exits; signals process groups; reports cpu/mem/ports
 * per process (figures.ts).
 *
 * A child started by this agent instance is a real child, so its exit status is exact.
 * Re-adopted processes (started by an earlier agent) are no longer children: their exit is
 * noticed from /proc, with the status when the zombie is still visible, else recorded as unknown.
 */
import {
  FailedError,
  ForbiddenError,
  type JsonDocument,
  type Logger,
  NotFoundError,
} from "../../core/mod.ts";
import { type ProcessFigures, ProcessSampler } from "./figures.ts";
import { rotateIfNeeded } from "./log_files.ts";
import type { ProcReader } from "./proc_reader.ts";
import { type ExitRecord, probeExit, type ProcessRecord, readStats } from "./records.ts";
import { logFileFor, resolveCommand, SPAWN_FAILED, spawnWithLog } from "./spawn.ts";

/** Options for {@linkcode ProcessSupervisor}. */
export interface ProcessSupervisorOptions {
  document: JsonDocument<ProcessRecord[]>;
  /** Reads /proc (through a helper process under Deno's permissions). */
  reader: ProcReader;
  /** Bytes per memory page. @default {4096} */
  pageBytes?: number;
  log: Logger;
  logDir: string;
  workDir: string;
  /** Environment given to every child (nothing else is inherited). */
  env: Record<string, string>;
  /** uid/gid to run as, or null to run as the agent. */
  account: { uid: number; gid: number } | null;
  /** Allowed argv[0] values (names or absolute paths); empty = any. */
  allowedCommands: readonly string[];
  /** Title per argv[0] (name or path). */
  titles: Readonly<Record<string, string>>;
  rotate: { maxBytes: number; keep: number };
  /** Exited records kept for status. @default {100} */
  keepExited?: number;
  /** How often re-adopted processes and log sizes are checked. @default {2000} */
  checkMs?: number;
}

/** Options for one start. */
export interface StartOptions {
  requestId?: string | null;
}

/** Log sizes are checked at most this often (one stat per process). */
const ROTATE_CHECK_MS = 10_000;

/** Supervises the processes one agent started. */
export class ProcessSupervisor {
  #o: ProcessSupervisorOptions;
  #records: ProcessRecord[] = [];
  /** pid → live record. */
  #live = new Map<number, ProcessRecord>();
  /** pids that are our own children (exit comes as an event). */
  #children = new Set<number>();
  #sampler: ProcessSampler;
  #timer: ReturnType<typeof setInterval> | null = null;
  #closed = false;
  #checking = false;
  #rotatedAt = 0;

  constructor(options: ProcessSupervisorOptions) {
    this.#o = options;
    this.#sampler = new ProcessSampler(options.reader, options.pageBytes);
  }

  /** Loads the records and re-adopts the processes still alive. */
  async open(): Promise<{ adopted: number; exited: number }> {
    this.#records = this.#o.document.value.map((r) => ({ ...r }));
    let adopted = 0;
    let exited = 0;
    const unfinished = this.#records.filter((r) => !r.exit);
    const stats = await readStats(this.#o.reader, unfinished.map((r) => r.pid));
    for (const record of unfinished) {
      const exit = probeExit(record, stats.get(record.pid) ?? null);
      if (exit) {
        record.exit = exit;
        exited++;
      } else {
        this.#live.set(record.pid, record);
        adopted++;
      }
    }
    if (exited > 0) await this.#save();
    await Deno.mkdir(this.#o.logDir, { recursive: true, mode: 0o750 });
    this.#timer = setInterval(() => void this.#check(), this.#o.checkMs ?? 2000);
    Deno.unrefTimer(this.#timer as unknown as number);
    return { adopted, exited };
  }

  /** Stops the periodic checks; the processes keep running. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Live records (re-checked against /proc for adopted ones). */
  running(): ProcessRecord[] {
    return [...this.#live.values()];
  }

  /** Every record, exited ones included. */
  records(): readonly ProcessRecord[] {
    return this.#records;
  }

  /** The live or recent record started by `requestId` within `windowMs`. */
  findByRequest(requestId: string, windowMs: number): ProcessRecord | null {
    const since = Date.now() - windowMs;
    for (let i = this.#records.length - 1; i >= 0; i--) {
      const r = this.#records[i]!;
      if (r.requestId === requestId && r.startedAt >= since) return r;
    }
    return null;
  }

  /** Resolves argv[0] (PATH search, or relative to the work folder) and checks the allow-list. */
  resolve(argv0: string): string {
    return resolveCommand(argv0, {
      workDir: this.#o.workDir,
      path: this.#o.env.PATH,
      allowed: this.#o.allowedCommands,
    });
  }

  /** Starts argv; resolves once the process runs and its record is durable. */
  async start(argv: readonly string[], options: StartOptions = {}): Promise<ProcessRecord> {
    if (argv.length === 0 || !argv[0]) {
      throw new FailedError("Empty command", { reason: SPAWN_FAILED });
    }
    const path = this.resolve(argv[0]);
    const o = this.#o;
    const logPath = logFileFor(o.logDir, argv[0]);
    const child = await spawnWithLog({
      path,
      argv,
      cwd: o.workDir,
      env: o.env,
      account: o.account,
      logPath,
      log: o.log,
    });
    const pid = child.pid;
    const stat = (await readStats(o.reader, [pid])).get(pid) ?? null;
    const record: ProcessRecord = {
      pid,
      startTime: stat?.startTime ?? 0,
      pgid: pid,
      argv: [...argv],
      path,
      title: o.titles[argv[0]] ?? o.titles[path] ?? argv[0],
      cwd: o.workDir,
      uid: o.account?.uid ?? null,
      gid: o.account?.gid ?? null,
      log: logPath,
      startedAt: Date.now(),
      requestId: options.requestId ?? null,
      exit: null,
    };
    this.#children.add(pid);
    this.#live.set(pid, record);
    this.#records.push(record);
    this.#sampler.started(pid, stat);
    await this.#save();
    child.onExit((exit) => {
      this.#children.delete(pid);
      void this.#markExited(record, exit);
    });
    o.log.info("process started", { pid, argv: record.argv, log: logPath });
    return record;
  }

  /** Signals a process this agent started (its whole process group). */
  async signal(pid: number, signal: "SIGTERM" | "SIGKILL" | "SIGHUP"): Promise<void> {
    const record = this.#live.get(pid);
    if (record) {
      const exit = this.#children.has(pid)
        ? null
        : probeExit(record, (await readStats(this.#o.reader, [pid])).get(pid) ?? null);
      if (!exit) {
        signalGroup(record, signal);
        this.#o.log.info("process signalled", { pid, signal });
        return;
      }
      await this.#markExited(record, exit);
    }
    if (this.#records.some((r) => r.pid === pid)) {
      throw new NotFoundError(`Process ${pid} has exited`);
    }
    throw new ForbiddenError(`Process ${pid} was not started by this agent`);
  }

  /** Live figures of every running process: one batch read of /proc (plus fd listings). */
  sample(): Promise<ProcessFigures[]> {
    return this.#sampler.sample([...this.#live.values()], (record, exit) => {
      if (!this.#children.has(record.pid)) void this.#markExited(record, exit);
    });
  }

  async #markExited(record: ProcessRecord, exit: ExitRecord): Promise<void> {
    if (record.exit) return;
    record.exit = exit;
    this.#live.delete(record.pid);
    this.#sampler.forget(record.pid);
    this.#o.log.info("process exited", {
      pid: record.pid,
      code: exit.code,
      signal: exit.signal,
      source: exit.source,
    });
    const keep = this.#o.keepExited ?? 100;
    const exited = this.#records.filter((r) => r.exit);
    if (exited.length > keep) {
      const drop = new Set(exited.slice(0, exited.length - keep));
      this.#records = this.#records.filter((r) => !drop.has(r));
    }
    if (!this.#closed) {
      await this.#save().catch((error) => {
        this.#o.log.error("cannot save process records", { error });
      });
    }
  }

  async #check(): Promise<void> {
    if (this.#checking || this.#closed) return;
    this.#checking = true;
    try {
      const adopted = [...this.#live.values()].filter((r) => !this.#children.has(r.pid));
      const stats = await readStats(this.#o.reader, adopted.map((r) => r.pid));
      for (const record of adopted) {
        const exit = probeExit(record, stats.get(record.pid) ?? null);
        if (exit) await this.#markExited(record, exit);
      }
      const now = Date.now();
      if (now - this.#rotatedAt < ROTATE_CHECK_MS) return;
      this.#rotatedAt = now;
      for (const record of [...this.#live.values()]) {
        if (await rotateIfNeeded(record.log, this.#o.rotate).catch(() => false)) {
          this.#o.log.info("process log rotated", { pid: record.pid, log: record.log });
        }
      }
    } finally {
      this.#checking = false;
    }
  }

  #save(): Promise<void> {
    return this.#o.document.write(this.#records.map((r) => ({ ...r })));
  }
}

/** Signals the process group of `record`, else the process alone; NotFoundError when neither. */
function signalGroup(record: ProcessRecord, signal: Deno.Signal): void {
  try {
    Deno.kill(-record.pgid, signal);
  } catch {
    try {
      Deno.kill(record.pid, signal);
    } catch (error) {
      throw new NotFoundError(
        `Process ${record.pid} cannot be signalled: ${(error as Error).message}`,
      );
    }
  }
}
