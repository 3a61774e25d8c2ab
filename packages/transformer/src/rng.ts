/**
 * Seeded randomness for initialisation, conditional label dropout and drop-path:
 * `Rng` from @var/core (xoshiro128**, identical on every platform and backend).
 */
import { Rng, type RandomSource as CoreRandomSource } from '@var/core';

/** The part of @var/core's `RandomSource` (e.g. an `Rng`) the model draws from. */
export type RandomSource = Pick<CoreRandomSource, 'random' | 'normal'>;

/** A generator from a seed or an existing source. */
export function toRng(seedOrRng: number | RandomSource | undefined, fallbackSeed = 0): RandomSource {
  if (seedOrRng === undefined) return new Rng(fallbackSeed);
  if (typeof seedOrRng === 'number') return new Rng(seedOrRng);
  return seedOrRng;
}

/**
 * `n` samples of N(mean, std²) truncated to the absolute interval [a, b] by rejection, as
 * `torch.nn.init.trunc_normal_(t, mean, std, a=-2, b=2)` defines it (bounds are absolute values).
 */
export function truncNormal(rng: RandomSource, n: number, std: number, mean = 0, a = -2, b = 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = mean + std * rng.normal();
    while (v < a || v > b);
    out[i] = v;
  }
  return out;
}
