/**
 * The seeded random numbers the sample generators draw from, so running a
 * generator again rewrites the same bytes.
 *
 * @module
 */

/**
 * mulberry32: a tiny deterministic PRNG giving numbers in [0, 1); the same
 * `seed` gives the same sequence.
 *
 * @example
 * ```ts
 * import { mulberry32 } from "./_random.ts";
 * const next = mulberry32(42);
 * const roll = Math.floor(next() * 6) + 1;
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
