import { describe, expect, it } from 'vitest';
import { Rng, ValueError } from '@var/core';
import { permutation, rngFor } from '../src/random.js';

describe('derived generators', () => {
  it('permutation is Rng.shuffle of 0…n−1, deterministic per seed', () => {
    const p = permutation(50, new Rng(9));
    expect(Array.from(p)).toEqual(new Rng(9).shuffle(Array.from({ length: 50 }, (_, i) => i)));
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rngFor is deterministic per (seed, purpose, index) and distinct across them', () => {
    const draw = (r: Rng) => Array.from({ length: 4 }, () => r.nextUint32());
    expect(draw(rngFor(7, 'shuffle', 3))).toEqual(draw(rngFor(7, 'shuffle', 3)));
    const streams = new Set<string>();
    for (const seed of [0, 1, 2, -1, 2 ** 40]) {
      for (const purpose of ['shuffle', 'split', 'flip', 'crop'] as const) {
        for (const index of [0, 1, 2, 1000]) streams.add(draw(rngFor(seed, purpose, index)).join(','));
      }
    }
    expect(streams.size).toBe(5 * 4 * 4);
    expect(() => rngFor(0.5, 'shuffle')).toThrow(ValueError);
    expect(() => rngFor(1, 'shuffle', -1)).toThrow(ValueError);
  });
});
