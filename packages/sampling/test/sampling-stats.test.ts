import { describe, expect, it } from 'vitest';
import { Rng } from '@var/core';
import { filteredProbabilities, sampleTokens, softmaxRow } from '../src/filter.js';

/** Upper quantile of chi-square with `df` degrees of freedom (Wilson–Hilferty), z = 3.09 for alpha = 0.001. */
function chi2Critical(df: number, z = 3.09): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

function chi2(counts: number[], probs: ArrayLike<number>, n: number): { stat: number; df: number } {
  let stat = 0;
  let df = -1;
  for (let i = 0; i < counts.length; i++) {
    if (probs[i] === 0) continue;
    const e = n * probs[i];
    stat += (counts[i] - e) ** 2 / e;
    df++;
  }
  return { stat, df };
}

describe('sampled frequencies match the filtered distribution (chi-square, fixed seed)', () => {
  const V = 16;
  const g = new Rng(7);
  const row = Array.from({ length: V }, () => 1.5 * g.normal());
  const N = 30000;
  const logits = new Float32Array(N * V);
  for (let r = 0; r < N; r++) logits.set(row, r * V);

  for (const [topK, topP] of [
    [0, 0],
    [8, 0],
    [0, 0.8],
    [10, 0.9],
  ]) {
    it(`topK=${topK}, topP=${topP}`, () => {
      const probs = filteredProbabilities(row, V, { topK, topP });
      const { tokens } = sampleTokens(logits, V, new Rng(2024), { topK, topP });
      const counts = new Array(V).fill(0);
      for (const t of tokens) counts[t]++;
      // no draw ever lands on a filtered-out token
      for (let i = 0; i < V; i++) if (probs[i] === 0) expect(counts[i]).toBe(0);
      const { stat, df } = chi2(counts, probs, N);
      expect(df).toBeGreaterThan(0);
      expect(stat).toBeLessThan(chi2Critical(df));
      if (topK > 0 || topP > 0) {
        // power check: the same counts are far from the unfiltered softmax
        const full = softmaxRow(row);
        let off = 0;
        for (let i = 0; i < V; i++) if (probs[i] === 0) off += full[i];
        expect(off).toBeGreaterThan(0.01);
        const bad = chi2(counts, full, N);
        expect(bad.stat).toBeGreaterThan(chi2Critical(bad.df));
      }
    });
  }

  it('is deterministic for a seed and changes with the seed', () => {
    const a = sampleTokens(logits.subarray(0, 200 * V), V, new Rng(1), { topP: 0.95 }).tokens;
    const b = sampleTokens(logits.subarray(0, 200 * V), V, new Rng(1), { topP: 0.95 }).tokens;
    const c = sampleTokens(logits.subarray(0, 200 * V), V, new Rng(2), { topP: 0.95 }).tokens;
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
});
