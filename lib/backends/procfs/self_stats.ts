/** Figures about the agent's own process. */
import { listProcDirs } from "./read.ts";

/** Resident set size of this process in bytes. */
export function residentBytes(): number {
  return Deno.memoryUsage().rss;
}

/** V8 heap in use by this isolate (the main thread; workers have their own), in bytes. */
export function heapUsedBytes(): number {
  return Deno.memoryUsage().heapUsed;
}

/** Number of open file descriptors of this process, or -1 when /proc is unavailable. */
export async function openFdCount(): Promise<number> {
  try {
    const dir = `/proc/${Deno.pid}/fd`;
    const entries = await listProcDirs([dir], { timeoutMs: 2000 });
    // The helper's own listing happens in another process, so every entry is the agent's.
    return entries.length > 0 ? entries.length : -1;
  } catch {
    return -1;
  }
}

/** Measures event-loop lag: how late a periodic timer fires. */
export class LoopLagMonitor {
  #timer: ReturnType<typeof setInterval> | null = null;
  #last = 0;
  #max = 0;
  #expected = 0;

  /** Starts sampling every `intervalMs`. */
  start(intervalMs = 250): void {
    this.#expected = performance.now() + intervalMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#last = Math.max(0, now - this.#expected);
      this.#max = Math.max(this.#max, this.#last);
      this.#expected = now + intervalMs;
    }, intervalMs);
    Deno.unrefTimer(this.#timer as unknown as number);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Lag of the latest sample, in seconds. */
  get lastSeconds(): number {
    return this.#last / 1000;
  }

  /** Largest lag seen, in seconds. */
  get maxSeconds(): number {
    return this.#max / 1000;
  }
}
