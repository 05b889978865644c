/**
 * The access log of one worker: one JSON line per request on the listeners that log, kept in
 * memory and appended to the file in batches (on the engine's tick, or sooner when a batch grows
 * past 64 KiB), never one write per request. The file is created mode 0640; every worker appends
 * to it with O_APPEND, so lines from several workers never interleave within a batch.
 */
import { dirname } from "node:path";

/** One request's facts, as logged. */
export interface AccessRecord {
  /** Unix ms when the request head was complete. */
  time: number;
  client: string;
  listener: string;
  method: string;
  host: string | null;
  path: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  /** The whole exchange, ms. */
  durationMs: number;
  /** From writing the request to the backend to the end of the response, ms (-1: none). */
  backendMs: number;
  app: string | null;
  backend: string | null;
  sozuId: string | null;
}

/** A batch is written once it holds this many bytes, without waiting for the tick. */
const FLUSH_BYTES = 64 * 1024;

const encoder = new TextEncoder();

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Whether a string can be quoted as it is in JSON (printable ASCII without `"` and `\`). */
function plain(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/** A JSON string (most values need no escaping: they are quoted as they are). */
function str(value: string | null): string {
  if (value === null) return "null";
  return plain(value) ? `"${value}"` : JSON.stringify(value);
}

let isoSecond = -1;
let isoPrefix = "";

/** ISO 8601 time of a Unix ms, the date part made once a second. */
function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoSecond = second;
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const rest = ms - second * 1000;
  return `${isoPrefix}${rest < 10 ? "00" : rest < 100 ? "0" : ""}${Math.floor(rest)}Z`;
}

/** Renders a record as one JSON line (the same keys, in order, as JSON.stringify would). */
export function accessLine(r: AccessRecord): string {
  return `{"time":"${isoTime(r.time)}","client":${str(r.client)},"listener":${
    str(r.listener)
  },"method":${str(r.method)},"host":${str(r.host)},"path":${str(r.path)},"status":${r.status},` +
    `"bytes_in":${r.bytesIn},"bytes_out":${r.bytesOut},"duration_ms":${
      round(r.durationMs)
    },"backend_ms":${r.backendMs < 0 ? "null" : round(r.backendMs)},"app":${str(r.app)},` +
    `"backend":${str(r.backend)},"sozu_id":${str(r.sozuId)}}\n`;
}

/** The buffered writer of one worker. */
export class AccessLog {
  readonly path: string;
  #all: boolean;
  #listeners: Set<string>;
  #lines: string[] = [];
  #bytes = 0;
  #file: Deno.FsFile | null = null;
  #writing: Promise<void> = Promise.resolve();
  #onError: (error: unknown) => void;
  #failed = false;

  constructor(path: string, listeners: string[], onError: (error: unknown) => void) {
    this.path = path;
    this.#all = listeners.includes("*");
    this.#listeners = new Set(listeners);
    this.#onError = onError;
  }

  /** Whether requests on this listener are logged. */
  wants(listener: string): boolean {
    return this.#all || this.#listeners.has(listener);
  }

  /** Queues one request's line. */
  add(record: AccessRecord): void {
    const line = accessLine(record);
    this.#lines.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= FLUSH_BYTES) this.flush();
  }

  /** Writes the queued lines (one write per batch); resolves when they are written. */
  flush(): Promise<void> {
    if (this.#lines.length === 0) return this.#writing;
    const text = this.#lines.join("");
    this.#lines = [];
    this.#bytes = 0;
    this.#writing = this.#writing.then(() => this.#write(encoder.encode(text)));
    return this.#writing;
  }

  async #write(bytes: Uint8Array): Promise<void> {
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
    } catch (error) {
      if (!this.#failed) this.#onError(error);
      this.#failed = true;
    }
  }

  /** Writes what is queued and closes the file. */
  async close(): Promise<void> {
    await this.flush();
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = null;
  }
}
