/**
 * Memory and disk figures, refreshed at most once per `refreshMs` whatever the request rate: a
 * refresh is one helper read of /proc/meminfo plus one `df`, run in the background; an answer
 * waits for it only when the cached figures are older than `maxAgeMs`. So one telemetry answer
 * costs well under a millisecond of agent CPU at any request rate.
 */
import type { CommandRunner } from "../../core/mod.ts";
import { DF_ARGV, parseDf } from "./disks.ts";
import { memoryUsage } from "./memory.ts";

/** Options for {@linkcode HostFigures}. */
export interface HostFiguresOptions {
  runner: CommandRunner;
  /** Reads whole /proc files (through a helper process). */
  readFiles(paths: readonly string[]): Promise<Map<string, string>>;
  /** @default {1000} */
  refreshMs?: number;
  /** @default {5000} */
  maxAgeMs?: number;
}

/** The cached figures. */
export interface HostSnapshot {
  at: number;
  memory: [number, number, number];
  disks: Record<string, [number, number]>;
}

/** Cached memory and disk figures. */
export class HostFigures {
  #o: HostFiguresOptions;
  #snapshot: HostSnapshot | null = null;
  #refreshing: Promise<HostSnapshot> | null = null;

  constructor(options: HostFiguresOptions) {
    this.#o = options;
  }

  /** Figures no older than `maxAgeMs`; kicks a background refresh after `refreshMs`. */
  async get(): Promise<HostSnapshot> {
    const now = Date.now();
    const s = this.#snapshot;
    if (s && now - s.at < (this.#o.maxAgeMs ?? 5000)) {
      if (now - s.at >= (this.#o.refreshMs ?? 1000)) void this.refresh().catch(() => {});
      return s;
    }
    return await this.refresh();
  }

  /** Re-reads now (single flight). */
  refresh(): Promise<HostSnapshot> {
    this.#refreshing ??= this.#read().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #read(): Promise<HostSnapshot> {
    const [files, df] = await Promise.all([
      this.#o.readFiles(["/proc/meminfo"]),
      this.#o.runner(DF_ARGV, { check: false, timeoutMs: 5000 }),
    ]);
    const meminfo = files.get("/proc/meminfo");
    const snapshot: HostSnapshot = {
      at: Date.now(),
      memory: meminfo ? memoryUsage(meminfo) : this.#snapshot?.memory ?? [0, 0, 0],
      disks: parseDf(df.stdout),
    };
    this.#snapshot = snapshot;
    return snapshot;
  }
}
