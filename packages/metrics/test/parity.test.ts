/**
 * Parity with the reference metrics fixture (../shared/fixtures/metrics): values computed
 * with numpy/scipy by the fixture generator; formulas stated in expected.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFixtureSafetensors, sharedFixturesDir, compareArrays, formatReport } from '@var/test-helpers';
import {
  FeatureStats,
  fidFromFeatures,
  frechetDistance,
  inceptionScore,
  precisionRecall,
  manifoldRadii,
  type FidMethod,
} from '../src/index.js';

const dir = join(sharedFixturesDir(), 'metrics');
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
const t = readFixtureSafetensors(join(dir, 'metrics.safetensors'));
const get = (name: string) => {
  const x = t.get(name);
  if (!x) throw new Error(`metrics.safetensors has no ${name}`);
  return x;
};
const real = get('feats_real');
const fake = get('feats_fake');
const [n, d] = real.shape;
const nf = fake.shape[0];

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('FID parity', () => {
  it('mean and covariance (N-1) match numpy', () => {
    const s = FeatureStats.fromFeatures(real.data as Float64Array, n, d);
    const rm = compareArrays(s.mu(), get('mu_real').data);
    const rs = compareArrays(s.sigma(), get('sigma_real').data);
    expect(rm.maxAbs, formatReport('mu_real', rm)).toBeLessThan(1e-13);
    expect(rs.maxAbs, formatReport('sigma_real', rs)).toBeLessThan(1e-12);
  });

  for (const method of ['cholesky', 'eigen'] as FidMethod[]) {
    it(`FID (${method}) to 1e-6 relative, with its terms`, () => {
      const r = fidFromFeatures(real.data as Float64Array, n, fake.data as Float64Array, nf, d, { method });
      const e = expected.fid_details;
      expect(rel(r.fid, expected.fid)).toBeLessThan(1e-6);
      expect(rel(r.fid, expected['fid_via_eigenvalues (cross-check)'])).toBeLessThan(1e-9);
      expect(rel(r.traceSqrtProduct, e.trace_sqrt_product)).toBeLessThan(1e-9);
      expect(rel(r.meanTerm, e.mean_term)).toBeLessThan(1e-12);
      expect(rel(r.traceSigma1, e.trace_sigma1)).toBeLessThan(1e-12);
      expect(rel(r.traceSigma2, e.trace_sigma2)).toBeLessThan(1e-12);
      expect(r.retriedWithEps).toBe(e.retried_with_eps_offset);
      expect(r.rankSigma1).toBe(d);
    });

    it(`FID (${method}) from the fixture's mu/sigma and real-vs-real ~ 0`, () => {
      const r = frechetDistance(get('mu_real').data, get('sigma_real').data, get('mu_fake').data, get('sigma_fake').data, { method });
      expect(rel(r.fid, expected.fid)).toBeLessThan(1e-6);
      const rr = fidFromFeatures(real.data as Float64Array, n, real.data as Float64Array, n, d, { method });
      expect(Math.abs(rr.fid)).toBeLessThan(1e-9);
      expect(Math.abs(expected.fid_real_vs_real)).toBeLessThan(1e-9);
    });

    it(`FID (${method}) on rank-deficient covariances (first 40 rows) to 1e-6 relative`, () => {
      const m = 40;
      const a = (real.data as Float64Array).subarray(0, m * d);
      const b = (fake.data as Float64Array).subarray(0, m * d);
      const r = fidFromFeatures(a, m, b, m, d, { method });
      const e = expected.fid_rank_deficient_first40_details;
      expect(rel(r.fid, expected.fid_rank_deficient_first40)).toBeLessThan(1e-6);
      expect(rel(r.traceSqrtProduct, e.trace_sqrt_product)).toBeLessThan(1e-6);
      expect(r.retriedWithEps).toBe(e.retried_with_eps_offset);
      expect(r.rankSigma1).toBeLessThan(m);
      expect(r.imaginaryMagnitude).toBeLessThan(1e-3);
    });

    it(`FID (${method}) of float32-rounded features to 1e-6 relative`, () => {
      const a = Float32Array.from(real.data as Float64Array);
      const b = Float32Array.from(fake.data as Float64Array);
      const r = fidFromFeatures(a, n, b, nf, d, { method });
      expect(rel(r.fid, expected.fid_with_features_rounded_to_float32)).toBeLessThan(1e-6);
    });
  }
});

describe('Inception Score parity', () => {
  it('10 splits to 1e-9, mean and population std', () => {
    const logits = get('is_logits');
    const [rows, k] = logits.shape;
    const r = inceptionScore({ data: logits.data as Float64Array, n: rows, d: k }, { splits: 10 });
    expect(r.splits.length).toBe(expected.inception_score_splits.length);
    r.splits.forEach((s, i) => expect(rel(s, expected.inception_score_splits[i])).toBeLessThan(1e-9));
    const ref = get('is_split_scores').data;
    r.splits.forEach((s, i) => expect(rel(s, ref[i])).toBeLessThan(1e-9));
    expect(rel(r.mean, expected.inception_score_mean)).toBeLessThan(1e-9);
    expect(rel(r.std, expected.inception_score_std)).toBeLessThan(1e-7);
  });
});

describe('precision / recall parity', () => {
  it(`k = ${expected.k}: radii, manifold membership and counts`, () => {
    const k = expected.k;
    const R = { data: real.data as Float64Array, n, d };
    const F = { data: fake.data as Float64Array, n: nf, d };
    const r = precisionRecall(R, F, { k });
    const rr = compareArrays(r.radiiReal, get('pr_radii_real').data);
    const rf = compareArrays(r.radiiFake, get('pr_radii_fake').data);
    expect(rr.maxRel, formatReport('radii_real', rr)).toBeLessThan(1e-10);
    expect(rf.maxRel, formatReport('radii_fake', rf)).toBeLessThan(1e-10);
    expect(Array.from(r.fakeInRealManifold)).toEqual(Array.from(get('pr_fake_in_real_manifold').data));
    expect(Array.from(r.realInFakeManifold)).toEqual(Array.from(get('pr_real_in_fake_manifold').data));
    expect(r.precisionCount).toBe(expected.precision_count);
    expect(r.recallCount).toBe(expected.recall_count);
    expect(r.precision).toBe(expected.precision);
    expect(r.recall).toBe(expected.recall);
    expect(Array.from(manifoldRadii(R, k, 77))).toEqual(Array.from(r.radiiReal));
  });
});
