/**
 * A small seedable pseudo-random generator (mulberry32) for balancing and retry back-off: tests
 * seed it for reproducible distributions; by default the seed comes from `crypto`.
 */

/** Returns numbers in [0, 1). */
export type RandomSource = () => number;

/** A mulberry32 generator seeded with `seed` (a random seed when absent). */
export function createRandom(seed?: number): RandomSource {
  let state = (seed ?? crypto.getRandomValues(new Uint32Array(1))[0]!) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
