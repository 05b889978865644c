/**
 * One JSON document per service under the state directory, with a schema version, written
 * atomically. Writes are coalesced: callers that write while a write is in flight share the next
 * fsync, so many orders per second cost few disk flushes while each caller still learns when its
 * own value is durable. A document that cannot be read is moved aside and the service starts empty.
 */
import { join } from "node:path";
import { writeFileAtomic } from "./atomic_file.ts";
import type { Logger } from "./log.ts";

/** How to open a document. */
export interface OpenDocumentOptions<T> {
  /** Schema version written with the data. */
  version: number;
  /** The value of a new or unreadable document. */
  empty: () => T;
  /** Checks (and may convert) stored data; throw to treat the document as corrupt. */
  parse?: (data: unknown, version: number) => T;
  /** @default {0o600} */
  mode?: number;
}

/** A durable JSON value. */
export interface JsonDocument<T> {
  readonly path: string;
  /**
   * The last value written (or loaded). A write that fails (disk full, read-only) puts back the
   * last durable value, unless a later write is already waiting.
   */
  readonly value: T;
  /** Makes `value` durable; resolves once it (or a later value) is on disk. */
  write(value: T): Promise<void>;
}

/** Writes still being flushed, across every document of this process. */
const flushing = new Set<Promise<void>>();
let sealed: string | null = null;

/**
 * Upgrade, old agent: refuses every later write (with `reason`) and resolves once the writes in
 * flight are on disk, so the successor reads the last state and nothing overwrites its own.
 */
export async function sealDocuments(reason: string): Promise<void> {
  sealed = reason;
  await Promise.allSettled([...flushing]);
}

/** Accepts writes again (an upgrade that failed after the seal). */
export function unsealDocuments(): void {
  sealed = null;
}

interface Envelope {
  version: number;
  savedAt: string;
  data: unknown;
}

class FileDocument<T> implements JsonDocument<T> {
  readonly path: string;
  #value: T;
  /** The value last known to be on disk. */
  #durable: T;
  #mode: number;
  #version: number;
  #flushing: Promise<void> | null = null;
  #pending: { value: T; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } | null =
    null;

  constructor(path: string, value: T, version: number, mode: number) {
    this.path = path;
    this.#value = value;
    this.#durable = value;
    this.#version = version;
    this.#mode = mode;
  }

  get value(): T {
    return this.#value;
  }

  write(value: T): Promise<void> {
    this.#value = value;
    if (sealed !== null) return Promise.reject(new Error(`State not written: ${sealed}`));
    return new Promise((resolve, reject) => {
      if (this.#pending) {
        this.#pending.value = value;
        this.#pending.waiters.push({ resolve, reject });
      } else {
        this.#pending = { value, waiters: [{ resolve, reject }] };
      }
      if (!this.#flushing) {
        const flush = this.#flushing = this.#flush();
        flushing.add(flush);
        void flush.finally(() => flushing.delete(flush));
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#pending) {
      const batch = this.#pending;
      this.#pending = null;
      const envelope: Envelope = {
        version: this.#version,
        savedAt: new Date().toISOString(),
        data: batch.value,
      };
      try {
        await writeFileAtomic(this.path, JSON.stringify(envelope) + "\n", { mode: this.#mode });
        this.#durable = batch.value;
        for (const w of batch.waiters) w.resolve();
      } catch (error) {
        // nothing was acknowledged: the value in memory goes back to what is on disk
        if (this.#pending === null) this.#value = this.#durable;
        for (const w of batch.waiters) w.reject(error);
      }
    }
    this.#flushing = null;
  }
}

/** Opens documents under one directory. */
export class StateStore {
  readonly dir: string;
  #log: Logger;

  constructor(dir: string, log: Logger) {
    this.dir = dir;
    this.#log = log;
  }

  /** Removes temp files a killed writer left behind (they were never renamed into place). */
  async #removeStaleTemps(prefix: string): Promise<void> {
    for await (const entry of Deno.readDir(this.dir)) {
      if (entry.isFile && entry.name.startsWith(prefix)) {
        await Deno.remove(join(this.dir, entry.name)).catch(() => {});
      }
    }
  }

  /** Opens `<dir>/<name>.json`, creating the directory when needed. */
  async open<T>(name: string, options: OpenDocumentOptions<T>): Promise<JsonDocument<T>> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$/.test(name)) {
      throw new TypeError(`Invalid document name "${name}"`);
    }
    await Deno.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${name}.json`);
    const mode = options.mode ?? 0o600;
    await this.#removeStaleTemps(`${name}.json.tmp-`);
    let text: string | null = null;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (text === null) return new FileDocument(path, options.empty(), options.version, mode);
    try {
      const envelope = JSON.parse(text) as Envelope;
      if (
        typeof envelope !== "object" || envelope === null || typeof envelope.version !== "number"
      ) {
        throw new SyntaxError("missing version");
      }
      if (envelope.version > options.version) {
        throw new RangeError(`version ${envelope.version} is newer than ${options.version}`);
      }
      const value = options.parse
        ? options.parse(envelope.data, envelope.version)
        : envelope.data as T;
      return new FileDocument(path, value, options.version, mode);
    } catch (error) {
      const aside = `${path.slice(0, -5)}.corrupt-${
        new Date().toISOString().replace(/[:.]/g, "-")
      }`;
      await Deno.rename(path, aside);
      this.#log.error("state document unreadable; moved aside and starting empty", {
        path,
        movedTo: aside,
        error,
      });
      return new FileDocument(path, options.empty(), options.version, mode);
    }
  }
}
