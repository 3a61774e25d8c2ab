import { describe, expect, it } from 'vitest';
import { kernelInceptionDistance, kernelInceptionDistanceFull, mmdUnbiased, mmdUnbiasedUnequal } from '../src/kid.js';
import { NonFiniteError, ShapeError } from '../src/errors.js';

function data(n: number, d: number, seed: number, shift: number) {
  let s = seed >>> 0;
  return Float64Array.from({ length: n * d }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5 + (i % d === 0 ? shift : 0);
  });
}

/** Direct O(n²) evaluation of the formula, one kernel value at a time. */
function directMmd(x: Float64Array, y: Float64Array, m: number, d: number) {
  const k = (a: Float64Array, i: number, b: Float64Array, j: number) => {
    let dot = 0;
    for (let p = 0; p < d; p++) dot += a[i * d + p] * b[j * d + p];
    return (dot / d + 1) ** 3;
  };
  let xx = 0,
    yy = 0,
    xy = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) {
      if (i !== j) {
        xx += k(x, i, x, j);
        yy += k(y, i, y, j);
      }
      xy += k(x, i, y, j);
    }
  return xx / (m * (m - 1)) + yy / (m * (m - 1)) - (2 * xy) / (m * m);
}

describe('KID', () => {
  it('equals the direct O(n²) unbiased MMD² with k(x,y) = (x·y/d + 1)³', () => {
    const m = 60,
      d = 9;
    const x = data(m, d, 1, 0),
      y = data(m, d, 2, 0.7);
    const direct = directMmd(x, y, m, d);
    expect(Math.abs(mmdUnbiased(x, y, m, d) - direct)).toBeLessThan(1e-12 * Math.abs(direct) + 1e-14);
    // one subset of all rows (a permutation) is the MMD² of the whole sets
    const r = kernelInceptionDistance({ data: x, n: m, d }, { data: y, n: m, d }, { numSubsets: 1, subsetSize: m });
    expect(Math.abs(r.mean - direct)).toBeLessThan(1e-12 * Math.abs(direct));
    expect(r.std).toBe(0);
    expect(direct).toBeGreaterThan(0.01);
  });

  it('subsets: seeded, near 0 for the same distribution, larger for a shift', () => {
    const d = 8;
    const a = { data: data(300, d, 3, 0), n: 300, d };
    const b = { data: data(300, d, 4, 0), n: 300, d };
    const c = { data: data(300, d, 5, 1), n: 300, d };
    const opts = { numSubsets: 5, subsetSize: 100, seed: 42 };
    const same = kernelInceptionDistance(a, b, opts);
    const shifted = kernelInceptionDistance(a, c, opts);
    expect(kernelInceptionDistance(a, b, opts)).toEqual(same);
    expect(kernelInceptionDistance(a, b, { ...opts, seed: 1 }).mean).not.toBe(same.mean);
    expect(same.values.length).toBe(5);
    expect(Math.abs(same.mean)).toBeLessThan(0.01);
    expect(shifted.mean).toBeGreaterThan(20 * Math.abs(same.mean));
    expect(() => kernelInceptionDistance(a, b, { subsetSize: 301 })).toThrow(ShapeError);
  });
});

/**
 * Direct float64 evaluation for sets of unequal size, written from the definition
 * (Gretton et al. 2012, Lemma 6) with one kernel value per pair and the three means taken
 * separately: E_{x≠x'} k(x,x') + E_{y≠y'} k(y,y') − 2 E_{x,y} k(x,y).
 */
function directMmdUnequal(x: Float64Array, m: number, y: Float64Array, n: number, d: number) {
  const k = (a: Float64Array, i: number, b: Float64Array, j: number) => {
    let dot = 0;
    for (let p = 0; p < d; p++) dot += a[i * d + p] * b[j * d + p];
    return (dot / d + 1) ** 3;
  };
  const meanOffDiag = (a: Float64Array, c: number) => {
    let s = 0,
      cnt = 0;
    for (let i = 0; i < c; i++)
      for (let j = 0; j < c; j++)
        if (i !== j) {
          s += k(a, i, a, j);
          cnt++;
        }
    return s / cnt;
  };
  let xy = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) xy += k(x, i, y, j);
  return meanOffDiag(x, m) + meanOffDiag(y, n) - 2 * (xy / (m * n));
}

describe('KID on full sets of unequal size (n ≠ m)', () => {
  it('equals the direct float64 unbiased MMD² for n ≠ m, and mmdUnbiased for n = m', () => {
    const d = 7;
    for (const [m, n, shift] of [
      [40, 65, 0.6],
      [2, 3, 0.2],
      [90, 31, 0],
      [17, 17, 1],
    ] as const) {
      const x = data(m, d, 11 + m, 0),
        y = data(n, d, 12 + n, shift);
      const direct = directMmdUnequal(x, m, y, n, d);
      const got = mmdUnbiasedUnequal(x, m, y, n, d);
      expect(Math.abs(got - direct), `m=${m} n=${n}`).toBeLessThan(1e-12 * Math.max(1, Math.abs(direct)));
      expect(kernelInceptionDistanceFull({ data: x, n: m, d }, { data: y, n, d })).toBe(got);
      if (m === n) expect(Math.abs(got - mmdUnbiased(x, y, m, d))).toBeLessThan(1e-12);
    }
    // swapping the sets does not change the estimate
    const a = data(23, d, 5, 0),
      b = data(41, d, 6, 0.4);
    expect(Math.abs(mmdUnbiasedUnequal(a, 23, b, 41, d) - mmdUnbiasedUnequal(b, 41, a, 23, d))).toBeLessThan(1e-12);
  });

  it('is unbiased: near 0 for one distribution, clearly positive for a shift; float32 features accepted', () => {
    const d = 8;
    const real = { data: data(400, d, 21, 0), n: 400, d };
    const same = kernelInceptionDistanceFull(real, { data: data(150, d, 22, 0), n: 150, d });
    const shifted = kernelInceptionDistanceFull(real, { data: data(150, d, 23, 1), n: 150, d });
    expect(Math.abs(same)).toBeLessThan(0.01);
    expect(shifted).toBeGreaterThan(20 * Math.abs(same));
    const f32 = { data: Float32Array.from(real.data), n: 400, d };
    const y = data(150, d, 23, 1);
    expect(
      Math.abs(kernelInceptionDistanceFull(f32, { data: y, n: 150, d }) - directMmdUnequal(Float64Array.from(f32.data), 400, y, 150, d)),
    ).toBeLessThan(1e-10);
    // the subset version with every vector of equal-size sets is the full-set estimate
    const r2 = { data: data(60, d, 31, 0), n: 60, d },
      f2 = { data: data(60, d, 32, 0.5), n: 60, d };
    expect(
      Math.abs(kernelInceptionDistance(r2, f2, { numSubsets: 1, subsetSize: 60 }).mean - kernelInceptionDistanceFull(r2, f2)),
    ).toBeLessThan(1e-12);
  });

  it('typed errors: fewer than 2 vectors, mismatched dimensions, NaN', () => {
    const d = 3;
    const ok = { data: data(5, d, 1, 0), n: 5, d };
    expect(() => kernelInceptionDistanceFull(ok, { data: data(1, d, 2, 0), n: 1, d })).toThrow(ShapeError);
    expect(() => kernelInceptionDistanceFull(ok, { data: data(4, 4, 2, 0), n: 4, d: 4 })).toThrow(/dimension 3, fake 4/);
    const bad = data(4, d, 3, 0);
    bad[5] = NaN;
    expect(() => kernelInceptionDistanceFull(ok, { data: bad, n: 4, d })).toThrow(NonFiniteError);
    expect(() => mmdUnbiasedUnequal(ok.data, 5, bad, 3, d)).toThrow(/expected a 5x3 and a 3x3 matrix/);
  });
});
