/**
 * Seeded randomness for shuffles, splits, crops and flips, built on `Rng` from
 * @var/core (xoshiro128** seeded by SplitMix64, the same stream on every platform).
 *
 * Every purpose (the shuffle of epoch e, the split of class c, the flips of epoch e, …)
 * gets its own generator, derived from the user's seed by {@link rngFor}, so that a run
 * resumed at epoch k sees exactly the order and flips it would have seen, and changing
 * one purpose's draws never shifts another's.
 */
import { Rng, ValueError } from '@var/core';

/** Purpose identifiers of the derived streams (part of the derivation: do not renumber). */
export const STREAMS = { shuffle: 1, split: 2, flip: 3, crop: 4 } as const;

const GOLDEN = 0x9e3779b97f4a7c15n;

/**
 * The generator for `purpose` and `index` under `seed`:
 * `new Rng(u64(seed) XOR (purposeId << 56) XOR u64(index · 0x9E3779B97F4A7C15))`
 * (Rng's SplitMix64 seeding then scrambles the 64-bit value).
 *
 * @throws ValueError for a seed that is not a safe integer or an index outside 0…2^32−1.
 */
export function rngFor(seed: number, purpose: keyof typeof STREAMS, index = 0): Rng {
  if (!Number.isSafeInteger(seed)) throw new ValueError(`seed must be a safe integer; got ${seed}`);
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** 32) {
    throw new ValueError(`stream index must be an integer in 0…2^32−1; got ${index}`);
  }
  const s = BigInt.asUintN(64, BigInt(seed)) ^ (BigInt(STREAMS[purpose]) << 56n) ^ BigInt.asUintN(64, BigInt(index) * GOLDEN);
  return new Rng(s);
}

/** A seeded permutation of 0…n−1: `rng.shuffle([0, 1, …, n−1])` (Fisher–Yates from the end). */
export function permutation(n: number, rng: Rng): Int32Array {
  return Int32Array.from(rng.shuffle(Array.from({ length: n }, (_, i) => i)));
}
