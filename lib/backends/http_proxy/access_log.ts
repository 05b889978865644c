/**
 * The access log of one worker: one JSON line per request on the listeners that log, written as
 * bytes into a batch buffer (access_line.ts) and appended to the file in batches (on the engine's
 * tick, or sooner when a batch passes 64 KiB), never one write per request. The file is created
 * mode 0640; every worker appends to it with O_APPEND, so lines from several workers never
 * interleave within a batch. A file that cannot be written is tried again at most every 5 s; the
 * lines in between are dropped and counted (said once when writing works again).
 */
import { dirname } from "node:path";
import { type AccessRecord, lineBound, putAccessLine } from "./access_line.ts";

export type { AccessRecord } from "./access_line.ts";

/** A batch is written once it holds this many bytes, without waiting for the tick. */
const FLUSH_BYTES = 64 * 1024;
/** The size of a batch buffer: a flush threshold plus room for the line that crossed it. */
const BATCH_BYTES = FLUSH_BYTES + 16 * 1024;
/** How long a failed file is left alone before the next try. */
const RETRY_MS = 5_000;

/** The buffered writer of one worker. */
export class AccessLog {
  readonly path: string;
  #all: boolean;
  #listeners: Set<string>;
  #batch = new Uint8Array(BATCH_BYTES);
  #used = 0;
  /** Written batch buffers, reused. */
  #spare: Uint8Array<ArrayBuffer>[] = [];
  #file: Deno.FsFile | null = null;
  #writing: Promise<void> = Promise.resolve();
  #onError: (error: unknown) => void;
  #onRecover: (dropped: number) => void;
  #failedUntil = 0;
  #dropped = 0;

  constructor(
    path: string,
    listeners: string[],
    onError: (error: unknown) => void,
    onRecover: (dropped: number) => void = () => {},
  ) {
    this.path = path;
    this.#all = listeners.includes("*");
    this.#listeners = new Set(listeners);
    this.#onError = onError;
    this.#onRecover = onRecover;
  }

  /** Whether requests on this listener are logged. */
  wants(listener: string): boolean {
    return this.#all || this.#listeners.has(listener);
  }

  /** Queues one request's line (the record is read at once and may be reused). */
  add(record: AccessRecord): void {
    if (this.#failedUntil !== 0) {
      if (Date.now() < this.#failedUntil) {
        this.#dropped++;
        return;
      }
      this.#failedUntil = 0;
    }
    const bound = lineBound(record);
    if (this.#used + bound > this.#batch.byteLength) {
      this.flush();
      if (bound > this.#batch.byteLength) this.#batch = new Uint8Array(bound);
    }
    this.#used = putAccessLine(this.#batch, this.#used, record);
    if (this.#used >= FLUSH_BYTES) this.flush();
  }

  /** Writes the queued lines (one write per batch); resolves when they are written. */
  flush(): Promise<void> {
    if (this.#used === 0) return this.#writing;
    const batch = this.#batch;
    const bytes = batch.subarray(0, this.#used);
    this.#batch = this.#spare.pop() ?? new Uint8Array(BATCH_BYTES);
    this.#used = 0;
    this.#writing = this.#writing.then(async () => {
      await this.#write(bytes);
      if (batch.byteLength === BATCH_BYTES && this.#spare.length < 4) this.#spare.push(batch);
    });
    return this.#writing;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    if (this.#failedUntil !== 0) {
      this.#dropped += countLines(bytes);
      return;
    }
    try {
      if (this.#file === null) {
        await Deno.mkdir(dirname(this.path), { recursive: true, mode: 0o750 });
      }
      this.#file ??= await Deno.open(this.path, {
        append: true,
        create: true,
        mode: 0o640,
      });
      let off = 0;
      while (off < bytes.byteLength) off += await this.#file.write(bytes.subarray(off));
      if (this.#dropped > 0) {
        this.#onRecover(this.#dropped);
        this.#dropped = 0;
      }
    } catch (error) {
      if (this.#dropped === 0) this.#onError(error);
      this.#dropped += countLines(bytes);
      this.#failedUntil = Date.now() + RETRY_MS;
      try {
        this.#file?.close();
      } catch {
        // already closed
      }
      this.#file = null;
    }
  }

  /** Writes what is queued and closes the file. */
  async close(): Promise<void> {
    this.#failedUntil = 0;
    await this.flush();
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = null;
  }
}

/** Lines in a batch (each ends with a newline). */
function countLines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}
