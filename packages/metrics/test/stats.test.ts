import { describe, expect, it } from 'vitest';
import { FeatureStats } from '../src/stats.js';
import { fidFromFeatures, fidFromStats } from '../src/fid.js';
import { NonFiniteError, ShapeError, ValueError } from '../src/errors.js';

function data(n: number, d: number, seed: number, offset = 0) {
  let s = seed >>> 0;
  const x = new Float64Array(n * d);
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 4294967296 - 0.5 + offset + (i % d) * 0.01;
  }
  return x;
}
function naiveStats(x: Float64Array, n: number, d: number) {
  const mu = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) mu[j] += x[i * d + j] / n;
  const s = new Float64Array(d * d);
  for (let i = 0; i < n; i++)
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) s[a * d + b] += ((x[i * d + a] - mu[a]) * (x[i * d + b] - mu[b])) / (n - 1);
  return { mu, s };
}
const maxRel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0,
    scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m / scale;
};

describe('FeatureStats (streaming)', () => {
  it('batch by batch equals the whole-set computation (mean, covariance, FID)', () => {
    const n = 1300,
      d = 37;
    const x = data(n, d, 1, 100); // large offset: the naive Σxxᵀ − nμμᵀ would cancel
    const whole = FeatureStats.fromFeatures(x, n, d);
    const streamed = new FeatureStats(d);
    const sizes = [1, 2, 513, 300, 7, 477];
    let r = 0;
    for (const b of sizes) {
      streamed.add(x.subarray(r * d, (r + b) * d), b, d);
      r += b;
    }
    expect(r).toBe(n);
    expect(streamed.count).toBe(n);
    const ref = naiveStats(x, n, d);
    expect(maxRel(whole.mu(), ref.mu)).toBeLessThan(1e-13);
    expect(maxRel(whole.sigma(), ref.s)).toBeLessThan(1e-12);
    expect(maxRel(streamed.mu(), whole.mu())).toBeLessThan(1e-13);
    expect(maxRel(streamed.sigma(), whole.sigma())).toBeLessThan(1e-12);
    // float32 batches give the same as float64 copies of them
    const x32 = Float32Array.from(x);
    const s32 = new FeatureStats(d).add(x32.subarray(0, 600 * d), 600).add(x32.subarray(600 * d), n - 600);
    expect(maxRel(s32.sigma(), FeatureStats.fromFeatures(Float64Array.from(x32), n, d).sigma())).toBeLessThan(1e-12);
    // merge
    const a = FeatureStats.fromFeatures(x.subarray(0, 400 * d), 400, d);
    a.merge(FeatureStats.fromFeatures(x.subarray(400 * d), n - 400, d));
    expect(maxRel(a.sigma(), whole.sigma())).toBeLessThan(1e-12);
    const y = data(900, d, 2, 100.3);
    const fWhole = fidFromFeatures(x, n, y, 900, d).fid;
    const fStream = fidFromStats(streamed, FeatureStats.fromFeatures(y, 900, d)).fid;
    expect(Math.abs(fStream - fWhole) / fWhole).toBeLessThan(1e-10);
  });

  it('typed errors for bad input', () => {
    const s = new FeatureStats(4);
    expect(() => s.add(new Float64Array(7), 2, 4)).toThrow(ShapeError);
    expect(() => s.add(new Float64Array(8), 2, 3)).toThrow(/expected feature dimension 4, got 3/);
    expect(() => s.add(Float64Array.of(1, 2, 3, NaN), 1, 4)).toThrow(NonFiniteError);
    expect(() => s.sigma()).toThrow(ValueError);
    s.add(new Float64Array(4), 1);
    expect(() => s.sigma()).toThrow(/at least 2/);
    expect(() => FeatureStats.fromMoments([0, 0], [1, 0, 0])).toThrow(ShapeError);
    expect(() => FeatureStats.fromMoments([0, 0], [1, 0, 0, 1]).add(new Float64Array(2), 1)).toThrow(ValueError);
  });
});
