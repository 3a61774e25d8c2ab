import { describe, expect, it } from 'vitest';
import { Rng } from '@var/core';
import { NonFiniteError, ValueError } from '@var/core';
import { filterLogits, filteredProbabilities, gumbelSoftmax, sampleIndex, sampleTokens, smoothTemperature } from '../src/filter.js';

/** Indices whose filtered logit is finite (kept). */
function kept(logits: number[], topK: number, topP: number): number[] {
  const f = filterLogits(logits, logits.length, { topK, topP });
  return Array.from(f).flatMap((v, i) => (v === -Infinity ? [] : [i]));
}

/** A deterministic uniform source for tests of the draw mechanics (not the project RNG). */
function seq(values: number[]) {
  let i = 0;
  return { random: () => values[i++ % values.length] };
}

describe('top-k (official: keep logits >= the k-th largest, ties kept)', () => {
  it('keeps exactly the k largest without ties', () => {
    expect(kept([1, 3, 2.5, 2, 0], 2, 0)).toEqual([1, 2]);
    expect(kept([1, 3, 2.5, 2, 0], 3, 0)).toEqual([1, 2, 3]);
    expect(kept([1, 3, 2.5, 2, 0], 1, 0)).toEqual([1]);
  });
  it('keeps every tie at the k-th value', () => {
    expect(kept([5, 4, 4, 4, 1], 2, 0)).toEqual([0, 1, 2, 3]);
    expect(kept([1, 3, 3, 2, 0], 1, 0)).toEqual([1, 2]);
    expect(kept([7, 7, 7], 1, 0)).toEqual([0, 1, 2]);
  });
  it('top_k = 0 and top_k >= V are off', () => {
    const l = [0.3, -1, 2, 0];
    expect(kept(l, 0, 0)).toEqual([0, 1, 2, 3]);
    expect(kept(l, 4, 0)).toEqual([0, 1, 2, 3]);
    expect(kept(l, 1000, 0)).toEqual([0, 1, 2, 3]);
    expect(Array.from(filterLogits(l, 4, { topK: 4 }))).toEqual(l);
  });
  it('filters each row independently', () => {
    const f = filterLogits([0, 1, 2, 9, 8, 7], 3, { topK: 1 });
    expect(Array.from(f)).toEqual([-Infinity, -Infinity, 2, 9, -Infinity, -Infinity]);
  });
});

describe('top-p (official: remove where ascending cumsum of softmax <= 1 - p; largest always kept)', () => {
  const probs = [0.5, 0.3, 0.15, 0.05];
  const l = probs.map(Math.log);
  it('removes the low tail', () => {
    expect(kept(l, 0, 0.9)).toEqual([0, 1, 2]); // cumsum .05 <= .1
    expect(kept(l, 0, 0.6)).toEqual([0, 1]); // .05, .2 <= .4
    expect(kept(l, 0, 0.45)).toEqual([0]); // .05, .2, .5 <= .55: only the largest is left
    expect(kept(l, 0, 0.55)).toEqual([0, 1]); // .5 > .45 is kept
  });
  it('always keeps the largest logit', () => {
    expect(kept(l, 0, 0.01)).toEqual([0]);
    expect(kept(l, 0, 1e-12)).toEqual([0]);
  });
  it('top_p <= 0 or >= 1 is off', () => {
    for (const p of [0, -0.5, 1, 1.5, Infinity, -Infinity]) expect(kept(l, 0, p)).toEqual([0, 1, 2, 3]);
  });
  it('applies after top-k on the renormalised distribution', () => {
    const m = [0.4, 0.3, 0.2, 0.1].map(Math.log);
    expect(kept(m, 0, 0.5)).toEqual([0, 1]);
    // top-k 2 leaves 4/7, 3/7; 3/7 <= 0.5 is removed
    expect(kept(m, 2, 0.5)).toEqual([0]);
  });
  it('orders ties by index (stable ascending sort)', () => {
    expect(kept([0, 0, 0, 0], 0, 0.5)).toEqual([2, 3]);
  });
  it('filtered probabilities sum to one and vanish where removed', () => {
    const p = filteredProbabilities(l, 4, { topP: 0.6 });
    expect(p[2]).toBe(0);
    expect(p[3]).toBe(0);
    expect(p[0] + p[1]).toBeCloseTo(1, 12);
    expect(p[0]).toBeCloseTo(0.5 / 0.8, 12);
  });
});

describe('option and input checks', () => {
  it('rejects bad topK / topP', () => {
    expect(() => filterLogits([0, 1], 2, { topK: -1 })).toThrow(ValueError);
    expect(() => filterLogits([0, 1], 2, { topK: 1.5 })).toThrow(ValueError);
    expect(() => filterLogits([0, 1], 2, { topP: NaN })).toThrow(ValueError);
  });
  it('rejects NaN logits and rows that are all -Infinity', () => {
    expect(() => filterLogits([0, NaN], 2, {})).toThrow(NonFiniteError);
    expect(() => sampleTokens([-Infinity, -Infinity], 2, seq([0.5]))).toThrow(NonFiniteError);
  });
});

describe('draw mechanics', () => {
  it('inverts the CDF with one uniform per row', () => {
    const w = [0.25, 0, 0.5, 0.25];
    expect(sampleIndex(w, seq([0]))).toBe(0);
    expect(sampleIndex(w, seq([0.2499]))).toBe(0);
    expect(sampleIndex(w, seq([0.25]))).toBe(2);
    expect(sampleIndex(w, seq([0.7499]))).toBe(2);
    expect(sampleIndex(w, seq([0.75]))).toBe(3);
    expect(sampleIndex(w, seq([0.9999999999]))).toBe(3);
  });
  it('greedy (top_k = 1) does not depend on the draws but consumes one per row', () => {
    let calls = 0;
    const rng = {
      random: () => {
        calls++;
        return 0.999;
      },
    };
    const { tokens } = sampleTokens([0, 5, 1, 3, 2, 0], 3, rng, { topK: 1 });
    expect(Array.from(tokens)).toEqual([1, 0]);
    expect(calls).toBe(2);
  });
  it('gumbel-softmax rows are distributions that put no mass on removed tokens', () => {
    const l = [1, -Infinity, 2, 0, 0, -Infinity];
    const w = gumbelSoftmax(l, 3, smoothTemperature(0.5), seq([0.1, 0.7, 0.4, 0.9, 0.3, 0.6]));
    expect(w[1]).toBe(0);
    expect(w[5]).toBe(0);
    expect(w[0] + w[1] + w[2]).toBeCloseTo(1, 12);
    expect(w[3] + w[4] + w[5]).toBeCloseTo(1, 12);
    expect(smoothTemperature(0)).toBeCloseTo(0.27, 15);
    expect(smoothTemperature(1)).toBeCloseTo(0.27 * 0.05, 15);
  });
});

/** A literal, slow transcription of the official filter (full sorts), for cross-checking. */
function naiveFilter(row: number[], topK: number, topP: number): number[] {
  const V = row.length;
  let r = row.slice();
  if (topK > 0 && topK < V) {
    const kth = r.slice().sort((a, b) => (a === b ? 0 : a < b ? 1 : -1))[topK - 1];
    r = r.map((v) => (v < kth ? -Infinity : v));
  }
  if (topP > 0 && topP < 1) {
    const idx = r.map((_, i) => i).sort((a, b) => (r[a] === r[b] ? a - b : r[a] < r[b] ? -1 : 1));
    const max = Math.max(...r);
    const e = idx.map((i) => Math.exp(r[i] - max));
    const tot = e.reduce((a, b) => a + b, 0);
    let cum = 0;
    const rm = idx.map((_, j) => (cum += e[j] / tot) <= 1 - topP);
    rm[V - 1] = false;
    idx.forEach((i, j) => {
      if (rm[j]) r[i] = -Infinity;
    });
  }
  return r;
}

describe('fast paths agree with a literal transcription of the official filter', () => {
  it('random float32 and float64 rows with many ties, every option combination', () => {
    const g = new Rng(99);
    for (let trial = 0; trial < 300; trial++) {
      const V = 1 + g.int(40);
      // coarse values give many ties; some rows are float64 (not float32-exact), some have -Infinity
      const coarse = trial % 3 !== 2;
      const row = Array.from({ length: V }, () => {
        if (g.random() < 0.05) return -Infinity;
        const v = coarse ? Math.round(g.normal() * 4) / 4 : g.normal() * 3 + 1e-9;
        return v;
      });
      if (row.every((v) => v === -Infinity)) row[0] = 0;
      const topK = [0, 1, 2, 5, V, V + 3][g.int(6)];
      const topP = [0, 0.1, 0.5, 0.9, 0.999, 1][g.int(6)];
      const got = Array.from(filterLogits(row, V, { topK, topP }));
      expect(got).toEqual(naiveFilter(row, topK, topP));
    }
  });
});
