/**
 * Serialisation of container operations: a keyed lock (one queue per container id or forward)
 * under a readers-writer gate, so `wipe` and friends run alone while per-container operations on
 * different containers run side by side.
 */

/** Releases what was acquired. */
export type Release = () => void;

class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #waiting = 0;

  get busy(): boolean {
    return this.#waiting > 0;
  }

  acquire(): Promise<Release> {
    this.#waiting++;
    const previous = this.#tail;
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#tail = previous.then(() => promise);
    return previous.then(() => () => {
      this.#waiting--;
      resolve();
    });
  }
}

/** One mutex per key, created on demand and dropped when idle. */
export class KeyedLock {
  #locks = new Map<string, Mutex>();

  /** Acquires every key (sorted, so two callers never deadlock). */
  async acquire(keys: readonly string[]): Promise<Release> {
    const sorted = [...new Set(keys)].sort();
    const releases: Release[] = [];
    for (const key of sorted) {
      let m = this.#locks.get(key);
      if (!m) {
        m = new Mutex();
        this.#locks.set(key, m);
      }
      releases.push(await m.acquire());
    }
    return () => {
      for (const r of releases.reverse()) r();
      for (const key of sorted) {
        const m = this.#locks.get(key);
        if (m && !m.busy) this.#locks.delete(key);
      }
    };
  }
}

/** Many shared holders or one exclusive holder; waiting writers block new readers. */
export class Gate {
  #readers = 0;
  #writer = false;
  #queue: { exclusive: boolean; go: () => void }[] = [];

  #pump(): void {
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (next.exclusive) {
        if (this.#writer || this.#readers > 0) return;
        this.#writer = true;
      } else {
        if (this.#writer) return;
        this.#readers++;
      }
      this.#queue.shift();
      next.go();
    }
  }

  /** Waits for a shared (`false`) or exclusive (`true`) hold. */
  acquire(exclusive: boolean): Promise<Release> {
    return new Promise((resolve) => {
      this.#queue.push({
        exclusive,
        go: () => {
          let done = false;
          resolve(() => {
            if (done) return;
            done = true;
            if (exclusive) this.#writer = false;
            else this.#readers--;
            this.#pump();
          });
        },
      });
      this.#pump();
    });
  }
}
