import { describe, expect, it } from 'vitest';
import { kernelInceptionDistance, mmdUnbiased } from './kid.js';
import { ShapeError } from './errors.js';

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
  let xx = 0, yy = 0, xy = 0;
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
    if (i !== j) { xx += k(x, i, x, j); yy += k(y, i, y, j); }
    xy += k(x, i, y, j);
  }
  return xx / (m * (m - 1)) + yy / (m * (m - 1)) - (2 * xy) / (m * m);
}

describe('KID', () => {
  it('equals the direct O(n²) unbiased MMD² with k(x,y) = (x·y/d + 1)³', () => {
    const m = 60, d = 9;
    const x = data(m, d, 1, 0), y = data(m, d, 2, 0.7);
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
