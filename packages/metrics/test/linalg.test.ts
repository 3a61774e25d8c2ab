import { describe, expect, it } from 'vitest';
import { gemmNT, matmul, pivotedCholesky, symmetricEigen, symmetricEigenvalues, transpose } from '../src/linalg.js';

/** Deterministic pseudo-random numbers in [-1, 1). */
function rnd(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2147483648 - 1;
  };
}
function randMat(r: () => number, rows: number, cols: number) {
  return Float64Array.from({ length: rows * cols }, r);
}
function naiveNT(a: Float64Array, b: Float64Array, m: number, n: number, k: number) {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
      c[i * n + j] = s;
    }
  return c;
}
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
/** Random symmetric PSD matrix of the given rank (X Xᵀ with X n×rank). */
function psd(r: () => number, n: number, rank: number) {
  const x = randMat(r, n, rank);
  return gemmNT(x, x, n, n, rank);
}

describe('gemmNT', () => {
  it('matches a naive A·Bᵀ for odd sizes spanning several blocks', () => {
    const r = rnd(1);
    for (const [m, n, k] of [
      [1, 1, 1],
      [5, 7, 3],
      [67, 131, 300],
      [130, 9, 517],
    ]) {
      const a = randMat(r, m, k),
        b = randMat(r, n, k);
      expect(maxAbsDiff(gemmNT(a, b, m, n, k), naiveNT(a, b, m, n, k))).toBeLessThan(1e-11);
    }
  });

  it('symmetric, triangular-A and accumulate modes', () => {
    const r = rnd(2);
    const n = 70,
      k = 301;
    const a = randMat(r, n, k);
    expect(maxAbsDiff(gemmNT(a, a, n, n, k, undefined, { symmetric: true }), naiveNT(a, a, n, n, k))).toBeLessThan(1e-11);
    // A with row i zero before column i (k >= n)
    const at = a.slice();
    for (let i = 0; i < n; i++) for (let p = 0; p < Math.min(i, k); p++) at[i * k + p] = 0;
    const b = randMat(r, 33, k);
    expect(maxAbsDiff(gemmNT(at, b, n, 33, k, undefined, { aUpperTriangular: true }), naiveNT(at, b, n, 33, k))).toBeLessThan(1e-11);
    expect(
      maxAbsDiff(gemmNT(at, at, n, n, k, undefined, { aUpperTriangular: true, symmetric: true }), naiveNT(at, at, n, n, k)),
    ).toBeLessThan(1e-11);
    const c = new Float64Array(n * 33).fill(1);
    gemmNT(a, b, n, 33, k, c, { accumulate: true });
    expect(
      maxAbsDiff(
        c,
        naiveNT(a, b, n, 33, k).map((v) => v + 1),
      ),
    ).toBeLessThan(1e-11);
    expect(maxAbsDiff(matmul(a, transpose(b, 33, k), n, k, 33), naiveNT(a, b, n, 33, k))).toBeLessThan(1e-11);
  });
});

describe('symmetric eigensolver (Householder + implicit QL)', () => {
  it('reconstructs A = Z Λ Zᵀ with orthonormal Z', () => {
    const r = rnd(3);
    for (const n of [1, 2, 3, 17, 64]) {
      const b = randMat(r, n, n);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j] = b[i * n + j] + b[j * n + i];
      const { values, vectors } = symmetricEigen(a, n);
      for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
      // Z Λ Zᵀ (rows of `vectors` are eigenvectors)
      const zl = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) zl[j * n + i] = vectors[i * n + j] * values[i];
      const zt = transpose(vectors, n, n);
      const rec = gemmNT(zl, zt, n, n, n);
      expect(maxAbsDiff(rec, a)).toBeLessThan(1e-11 * n);
      const gram = gemmNT(vectors, vectors, n, n, n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.abs(gram[i * n + j] - (i === j ? 1 : 0))).toBeLessThan(1e-12 * n);
      const vals = Array.from(symmetricEigenvalues(a, n)).sort((x, y) => x - y);
      expect(maxAbsDiff(vals, values)).toBeLessThan(1e-11 * n);
    }
  });

  it('known spectra: diagonal, repeated eigenvalues, tridiagonal Toeplitz', () => {
    const n = 40;
    const diag = new Float64Array(n * n);
    for (let i = 0; i < n; i++) diag[i * n + i] = (i * 7) % 5; // repeated values
    expect(Array.from(symmetricEigenvalues(diag, n)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: n }, (_, i) => (i * 7) % 5).sort((a, b) => a - b),
    );
    // tridiag(1, 2, 1): eigenvalues 2 + 2cos(kπ/(n+1))
    const t = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      t[i * n + i] = 2;
      if (i + 1 < n) t[i * n + i + 1] = t[(i + 1) * n + i] = 1;
    }
    const got = Array.from(symmetricEigenvalues(t, n)).sort((a, b) => a - b);
    const want = Array.from({ length: n }, (_, k) => 2 + 2 * Math.cos(((k + 1) * Math.PI) / (n + 1))).sort((a, b) => a - b);
    expect(maxAbsDiff(got, want)).toBeLessThan(1e-13);
  });
});

describe('pivotedCholesky', () => {
  it('factors full-rank and rank-deficient PSD matrices and reports the rank', () => {
    const r = rnd(4);
    for (const [n, rank] of [
      [30, 30],
      [30, 11],
      [5, 1],
    ]) {
      const s = psd(r, n, rank);
      const f = pivotedCholesky(s, n);
      expect(f.rank).toBe(rank);
      // S[perm i, perm j] = Σ_q Lt[q,i] Lt[q,j]
      const ltT = transpose(f.lt, f.rank, n);
      const rec = gemmNT(ltT, ltT, n, n, f.rank);
      let err = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) err = Math.max(err, Math.abs(rec[i * n + j] - s[f.perm[i] * n + f.perm[j]]));
      expect(err).toBeLessThan(1e-12 * n);
      for (let q = 0; q < f.rank; q++) for (let i = 0; i < q; i++) expect(f.lt[q * n + i]).toBe(0);
    }
  });
});
