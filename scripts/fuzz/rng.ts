/**
 * A small seeded PRNG (sfc32) and the derivation of one generator per (seed, stream, index), so
 * that frame `i` of a run is the same bytes whatever ran before it: a failure names the seed and
 * the frame index, and `--replay` rebuilds exactly that frame.
 *
 * @module
 */

/** 32-bit FNV-1a of a string. */
function fnv1a(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A seeded pseudo-random generator (sfc32). */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /** A generator for `seed` and a label (protocol, stream, index). */
  constructor(seed: number, label = "") {
    const text = `${seed}:${label}`;
    this.#a = fnv1a(text, 0x9e3779b9);
    this.#b = fnv1a(text, 0x243f6a88);
    this.#c = fnv1a(text, 0xb7e15162);
    this.#d = fnv1a(text, 0x01234567) | 1;
    for (let i = 0; i < 12; i++) this.next();
  }

  /** A float in [0, 1). */
  next(): number {
    const a = this.#a, b = this.#b, c = this.#c, d = this.#d;
    const t = (((a + b) >>> 0) + d) >>> 0;
    this.#d = (d + 1) >>> 0;
    this.#a = b ^ (b >>> 9);
    this.#b = (c + (c << 3)) >>> 0;
    this.#c = ((c << 21) | (c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty list");
    return items[this.int(items.length)]!;
  }

  /** One of the weighted choices (`[weight, value]`). */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((n, [w]) => n + w, 0);
    let r = this.next() * total;
    for (const [w, value] of choices) {
      if ((r -= w) < 0) return value;
    }
    return choices[choices.length - 1]![1];
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** The generator of frame `index` of `stream` in a run with `seed`. */
export function frameRng(seed: number, stream: string, index: number): Rng {
  return new Rng(seed, `${stream}#${index}`);
}
