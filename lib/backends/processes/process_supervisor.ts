/**
 * The process supervisor: starts argv directly (no shell) in a work folder, optionally as another
 * user, with a limited environment and stdout/stderr on a per-process log file; remembers every
 * process durably (pid + /proc start time) so a restarted agent re-adopts the ones still alive;
 * records exits; signals process groups; reports cpu/mem/ports per process.
 *
 * Why node:child_process: it is the one spawn API in Deno 2.9 that hands a file descriptor to the
 * child (`stdio: ["ignore", fd, fd]`). The child then writes to its log file itself, so it
 * survives the agent (no pipe, no SIGPIPE) and needs no helper process, and a child started by
 * this agent instance is a real child, so its exit status is exact. Re-adopted processes (started
 * by an earlier agent) are no longer children: their exit is noticed from /proc, with the status
 * when the zombie is still visible, else recorded as unknown.
 */
import { spawn as nodeSpawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import type { JsonDocument, Logger } from "../../core/mod.ts";
import { NotPermittedError, ProcessExitedError, SpawnError } from "./errors.ts";
import { removeLogs, rotateIfNeeded } from "./log_files.ts";
import {
  CLOCK_TICKS,
  decodeWaitStatus,
  parseStat,
  type ProcStat,
  statPath,
} from "../procfs/mod.ts";
import { PortIndex } from "./ports.ts";
import type { ProcReader } from "./proc_reader.ts";

/** How a process ended. */
export interface ExitRecord {
  code: number | null;
  signal: string | null;
  /** Unix ms when the exit was noticed. */
  at: number;
  /** `wait`: exact (our child); `proc`: read from the zombie; `gone`: status unknown. */
  source: "wait" | "proc" | "gone";
}

/** One supervised process, as stored durably. */
export interface ProcessRecord {
  pid: number;
  /** /proc/<pid>/stat start time (clock ticks after boot); guards against pid reuse. */
  startTime: number;
  pgid: number;
  argv: string[];
  /** The resolved executable. */
  path: string;
  title: string;
  cwd: string;
  uid: number | null;
  gid: number | null;
  log: string;
  /** Unix ms. */
  startedAt: number;
  /** The request that started it (for duplicate suppression). */
  requestId: string | null;
  exit: ExitRecord | null;
}

/** A running process with its live figures. */
export interface ProcessFigures {
  record: ProcessRecord;
  /** % of one CPU since the previous sample (0 on the first). */
  cpuPercent: number;
  rssBytes: number;
  ports: number[];
}

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

const LOG_NAME = /[^A-Za-z0-9._-]/g;
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
  #cpu = new Map<number, { ticks: number; at: number }>();
  #ports = new PortIndex();
  #timer: ReturnType<typeof setInterval> | null = null;
  #closed = false;
  #checking = false;
  #rotatedAt = 0;

  constructor(options: ProcessSupervisorOptions) {
    this.#o = options;
  }

  /** Loads the records and re-adopts the processes still alive. */
  async open(): Promise<{ adopted: number; exited: number }> {
    this.#records = this.#o.document.value.map((r) => ({ ...r }));
    let adopted = 0;
    let exited = 0;
    const stats = await this.#stats(this.#records.filter((r) => !r.exit).map((r) => r.pid));
    for (const record of this.#records) {
      if (record.exit) continue;
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
    const every = this.#o.checkMs ?? 2000;
    this.#timer = setInterval(() => void this.#check(), every);
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
    const allowed = this.#o.allowedCommands;
    let path: string | null = null;
    if (argv0.includes("/")) {
      path = argv0.startsWith("/") ? argv0 : join(this.#o.workDir, argv0);
      if (!isExecutable(path)) path = null;
    } else {
      for (const dir of (this.#o.env.PATH ?? "/usr/bin:/bin").split(":")) {
        if (!dir.startsWith("/")) continue;
        const candidate = join(dir, argv0);
        if (isExecutable(candidate)) {
          path = candidate;
          break;
        }
      }
    }
    if (allowed.length > 0 && !allowed.includes(argv0) && !(path && allowed.includes(path))) {
      throw new NotPermittedError(`Command "${argv0}" is not in quix.allowed_commands`);
    }
    if (!path) throw new SpawnError(`Command "${argv0}" not found or not executable`);
    return path;
  }

  /** Starts argv; resolves once the process runs and its record is durable. */
  async start(argv: readonly string[], options: StartOptions = {}): Promise<ProcessRecord> {
    if (argv.length === 0 || !argv[0]) throw new SpawnError("Empty command");
    const path = this.resolve(argv[0]);
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const base = (argv[0].split("/").pop() ?? "proc").replace(LOG_NAME, "_").slice(0, 40);
    const logPath = join(this.#o.logDir, `${base}-${stamp}-${crypto.randomUUID().slice(0, 8)}.log`);
    let fd: number;
    try {
      fd = openSync(logPath, "a", 0o640);
    } catch (error) {
      throw new SpawnError(`Cannot open log file "${logPath}"`, { cause: error });
    }
    const account = this.#o.account;
    let child: ReturnType<typeof nodeSpawn>;
    let exited: ExitRecord | null = null;
    let onExit: ((exit: ExitRecord) => void) | null = null;
    try {
      child = nodeSpawn(path, argv.slice(1), {
        cwd: this.#o.workDir,
        env: this.#o.env,
        stdio: ["ignore", fd, fd],
        detached: true,
        ...(account ? { uid: account.uid, gid: account.gid } : {}),
      });
      // Listen for the exit before anything else is awaited: a short-lived child may be gone
      // before its record exists.
      child.once("exit", (code, signal) => {
        exited = { code: code ?? null, signal: signal ?? null, at: Date.now(), source: "wait" };
        onExit?.(exited);
      });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", () => resolve());
        child.once("error", (e) => reject(e));
      });
    } catch (error) {
      await removeLogs(logPath, 0);
      throw new SpawnError(`Cannot start "${argv[0]}": ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      closeSync(fd);
    }
    const pid = child.pid!;
    child.on("error", (error) => this.#o.log.warn("process error", { pid, error }));
    child.unref();
    const stat = (await this.#stats([pid])).get(pid) ?? null;
    const record: ProcessRecord = {
      pid,
      startTime: stat?.startTime ?? 0,
      pgid: pid,
      argv: [...argv],
      path,
      title: this.#o.titles[argv[0]] ?? this.#o.titles[path] ?? argv[0],
      cwd: this.#o.workDir,
      uid: account?.uid ?? null,
      gid: account?.gid ?? null,
      log: logPath,
      startedAt: Date.now(),
      requestId: options.requestId ?? null,
      exit: null,
    };
    this.#children.add(pid);
    this.#live.set(pid, record);
    this.#records.push(record);
    if (stat) this.#cpu.set(pid, { ticks: stat.cpuTicks, at: performance.now() });
    this.#ports.invalidate();
    await this.#save();
    onExit = (exit) => {
      this.#children.delete(pid);
      void this.#markExited(record, exit);
    };
    if (exited) onExit(exited);
    this.#o.log.info("process started", { pid, argv: record.argv, log: logPath });
    return record;
  }

  /** Signals a process this agent started (its whole process group). */
  async signal(pid: number, signal: "SIGTERM" | "SIGKILL" | "SIGHUP"): Promise<void> {
    const record = this.#live.get(pid);
    if (record) {
      const exit = this.#children.has(pid)
        ? null
        : probeExit(record, (await this.#stats([pid])).get(pid) ?? null);
      if (exit) {
        await this.#markExited(record, exit);
      } else {
        try {
          Deno.kill(-record.pgid, signal);
        } catch {
          try {
            Deno.kill(pid, signal);
          } catch (error) {
            throw new ProcessExitedError(
              `Process ${pid} cannot be signalled: ${(error as Error).message}`,
            );
          }
        }
        this.#o.log.info("process signalled", { pid, signal });
        return;
      }
    }
    if (this.#records.some((r) => r.pid === pid)) {
      throw new ProcessExitedError(`Process ${pid} has exited`);
    }
    throw new NotPermittedError(`Process ${pid} was not started by this agent`);
  }

  /** Live figures of every running process: one batch read of /proc (plus fd listings). */
  async sample(): Promise<ProcessFigures[]> {
    const page = this.#o.pageBytes ?? 4096;
    const live = [...this.#live.values()];
    if (live.length === 0) return [];
    const pids = live.map((r) => r.pid);
    const plan = this.#ports.plan(pids);
    const files = await this.#o.reader.readFiles([
      ...pids.map(statPath),
      ...plan.tables,
      ...plan.children,
    ]);
    const now = performance.now();
    const out: ProcessFigures[] = [];
    for (const record of live) {
      const stat = parseStat(files.get(statPath(record.pid)));
      const exit = probeExit(record, stat);
      if (exit || !stat) {
        if (exit && !this.#children.has(record.pid)) void this.#markExited(record, exit);
        continue;
      }
      const prev = this.#cpu.get(record.pid);
      let cpu = 0;
      if (prev && now > prev.at) {
        cpu = ((stat.cpuTicks - prev.ticks) / CLOCK_TICKS) / ((now - prev.at) / 1000) * 100;
      }
      this.#cpu.set(record.pid, { ticks: stat.cpuTicks, at: now });
      out.push({
        record,
        cpuPercent: Math.max(0, Math.round(cpu * 10) / 10),
        rssBytes: stat.rssPages * page,
        ports: [],
      });
    }
    const alive = out.map((f) => f.record.pid);
    const ports = await this.#ports.complete(plan, alive, files, this.#o.reader);
    for (const f of out) f.ports = ports.get(f.record.pid) ?? [];
    return out;
  }

  async #stats(pids: readonly number[]): Promise<Map<number, ProcStat>> {
    const out = new Map<number, ProcStat>();
    if (pids.length === 0) return out;
    const files = await this.#o.reader.readFiles(pids.map(statPath));
    for (const pid of pids) {
      const stat = parseStat(files.get(statPath(pid)));
      if (stat) out.set(pid, stat);
    }
    return out;
  }

  async #markExited(record: ProcessRecord, exit: ExitRecord): Promise<void> {
    if (record.exit) return;
    record.exit = exit;
    this.#live.delete(record.pid);
    this.#cpu.delete(record.pid);
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
      const stats = await this.#stats(adopted.map((r) => r.pid));
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

/** The exit seen in /proc for a record, or null while it runs. */
function probeExit(record: ProcessRecord, stat: ProcStat | null): ExitRecord | null {
  if (stat && stat.startTime === record.startTime) {
    if (stat.state !== "Z" && stat.state !== "X") return null;
    const decoded = stat.exitCode === null
      ? { code: null, signal: null }
      : decodeWaitStatus(stat.exitCode);
    return { ...decoded, at: Date.now(), source: "proc" };
  }
  return { code: null, signal: null, at: Date.now(), source: "gone" };
}

function isExecutable(path: string): boolean {
  try {
    const info = Deno.statSync(path);
    return info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
  } catch {
    return false;
  }
}
