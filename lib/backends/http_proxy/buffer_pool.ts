/**
 * A bounded pool of fixed-size byte buffers. Connections borrow a buffer for as long as they need
 * it and give it back; at most `maxInUse` buffers are lent at once (a new connection beyond that
 * is refused rather than growing memory), and at most `maxFree` idle buffers are kept for reuse.
 */

/** Options for a {@linkcode BufferPool}. */
export interface BufferPoolOptions {
  /** Size of every buffer, bytes. */
  size: number;
  /** Buffers lent at once, at most. @default {10000} */
  maxInUse?: number;
  /** Idle buffers kept for reuse. @default {512} */
  maxFree?: number;
}

/** A bounded pool of equal-size `Uint8Array`s. */
export class BufferPool {
  readonly size: number;
  #free: Uint8Array[] = [];
  #inUse = 0;
  #maxInUse: number;
  #maxFree: number;

  constructor(options: BufferPoolOptions) {
    this.size = options.size;
    this.#maxInUse = options.maxInUse ?? 10_000;
    this.#maxFree = options.maxFree ?? 512;
  }

  /** A buffer, or null when `maxInUse` buffers are already lent. */
  acquire(): Uint8Array | null {
    if (this.#inUse >= this.#maxInUse) return null;
    this.#inUse++;
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /** Gives a buffer back (buffers of another size are dropped). */
  release(buf: Uint8Array): void {
    this.#inUse--;
    if (buf.byteLength === this.size && this.#free.length < this.#maxFree) this.#free.push(buf);
  }

  /** Buffers currently lent. */
  get inUse(): number {
    return this.#inUse;
  }

  /** Idle buffers kept. */
  get free(): number {
    return this.#free.length;
  }
}
