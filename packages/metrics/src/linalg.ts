/**
 * Dense float64 linear algebra for the metrics, in plain JavaScript (no tfjs):
 * a cache-blocked `A·Bᵀ` kernel, a pivoted Cholesky factor for positive semi-definite
 * matrices, Householder tridiagonalisation and implicit-shift QL for symmetric
 * eigenproblems (values only, or values and vectors).
 *
 * Every matrix is a row-major `Float64Array` with its sizes passed alongside.
 */
import { ValueError } from './errors.js';

const KC = 256; // k-chunk of the gemm kernel (4 rows of A and of B: 16 KiB, in L1)
const NC = 64; // rows of B per block (64 x 256 x 8 B = 128 KiB, in L2)

export interface GemmOptions {
  /** Accumulate into `out` instead of overwriting it. */
  accumulate?: boolean;
  /**
   * Row i of A is zero in its columns < i (A is the transpose of a lower-triangular
   * matrix, e.g. Lᵀ of a Cholesky factor); the kernel skips those products.
   */
  aUpperTriangular?: boolean;
  /** The result is symmetric (m = n): only tiles with j >= i are computed, then mirrored. */
  symmetric?: boolean;
}

/**
 * C (m×n) = A (m×k) · B (n×k)ᵀ, all row-major, so every inner product runs over two
 * contiguous rows. Blocked over k and over rows of B, with a 4×4 register tile.
 */
export function gemmNT(
  a: Float64Array,
  b: Float64Array,
  m: number,
  n: number,
  k: number,
  out?: Float64Array,
  opts: GemmOptions = {},
): Float64Array {
  const c = out ?? new Float64Array(m * n);
  if (c.length < m * n) throw new ValueError(`gemmNT: output has ${c.length} elements, expected at least ${m * n}`);
  if (a.length < m * k || b.length < n * k) {
    throw new ValueError(`gemmNT: A needs ${m}x${k}=${m * k} elements (has ${a.length}), B needs ${n}x${k}=${n * k} (has ${b.length})`);
  }
  if (!opts.accumulate && out) c.fill(0, 0, m * n);
  const sym = !!opts.symmetric;
  if (sym && m !== n) throw new ValueError(`gemmNT: a symmetric result must be square, got ${m}x${n}`);
  const tri = !!opts.aUpperTriangular;

  for (let k0 = 0; k0 < k; k0 += KC) {
    const k1 = Math.min(k, k0 + KC);
    for (let j0 = 0; j0 < n; j0 += NC) {
      const j1 = Math.min(n, j0 + NC);
      const iEnd = sym ? Math.min(m, j1) : m;
      for (let i = 0; i < iEnd; i += 4) {
        const iRows = Math.min(4, m - i);
        let ks = k0;
        if (tri && i > ks) ks = i;
        if (ks >= k1) continue;
        // i is a multiple of 4 and so is every tile start: for a symmetric result skip
        // tiles entirely below the diagonal (the mirror below fills them).
        let j = sym ? Math.max(j0, i) : j0;
        for (; j < j1; j += 4) {
          const jCols = Math.min(4, j1 - j);
          if (iRows === 4 && jCols === 4) {
            const a0 = i * k,
              a1 = a0 + k,
              a2 = a1 + k,
              a3 = a2 + k;
            const b0 = j * k,
              b1 = b0 + k,
              b2 = b1 + k,
              b3 = b2 + k;
            let c00 = 0,
              c01 = 0,
              c02 = 0,
              c03 = 0;
            let c10 = 0,
              c11 = 0,
              c12 = 0,
              c13 = 0;
            let c20 = 0,
              c21 = 0,
              c22 = 0,
              c23 = 0;
            let c30 = 0,
              c31 = 0,
              c32 = 0,
              c33 = 0;
            for (let p = ks; p < k1; p++) {
              const x0 = a[a0 + p],
                x1 = a[a1 + p],
                x2 = a[a2 + p],
                x3 = a[a3 + p];
              const y0 = b[b0 + p],
                y1 = b[b1 + p],
                y2 = b[b2 + p],
                y3 = b[b3 + p];
              c00 += x0 * y0;
              c01 += x0 * y1;
              c02 += x0 * y2;
              c03 += x0 * y3;
              c10 += x1 * y0;
              c11 += x1 * y1;
              c12 += x1 * y2;
              c13 += x1 * y3;
              c20 += x2 * y0;
              c21 += x2 * y1;
              c22 += x2 * y2;
              c23 += x2 * y3;
              c30 += x3 * y0;
              c31 += x3 * y1;
              c32 += x3 * y2;
              c33 += x3 * y3;
            }
            let o = i * n + j;
            c[o] += c00;
            c[o + 1] += c01;
            c[o + 2] += c02;
            c[o + 3] += c03;
            o += n;
            c[o] += c10;
            c[o + 1] += c11;
            c[o + 2] += c12;
            c[o + 3] += c13;
            o += n;
            c[o] += c20;
            c[o + 1] += c21;
            c[o + 2] += c22;
            c[o + 3] += c23;
            o += n;
            c[o] += c30;
            c[o + 1] += c31;
            c[o + 2] += c32;
            c[o + 3] += c33;
          } else {
            for (let ii = 0; ii < iRows; ii++) {
              const ao = (i + ii) * k;
              for (let jj = 0; jj < jCols; jj++) {
                const bo = (j + jj) * k;
                let s = 0;
                for (let p = ks; p < k1; p++) s += a[ao + p] * b[bo + p];
                c[(i + ii) * n + j + jj] += s;
              }
            }
          }
        }
      }
    }
  }
  if (sym) {
    // Tiles on the diagonal computed both halves; mirror the upper triangle down.
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < i; j++) c[i * n + j] = c[j * n + i];
    }
  }
  return c;
}

/** Transpose of a row-major rows×cols matrix (blocked for cache). */
export function transpose(a: Float64Array, rows: number, cols: number, out?: Float64Array): Float64Array {
  const t = out ?? new Float64Array(rows * cols);
  const B = 32;
  for (let i0 = 0; i0 < rows; i0 += B) {
    const i1 = Math.min(rows, i0 + B);
    for (let j0 = 0; j0 < cols; j0 += B) {
      const j1 = Math.min(cols, j0 + B);
      for (let i = i0; i < i1; i++) {
        for (let j = j0; j < j1; j++) t[j * rows + i] = a[i * cols + j];
      }
    }
  }
  return t;
}

/** C = A·B for row-major A (m×k), B (k×n), via {@link gemmNT} on Bᵀ. */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number): Float64Array {
  return gemmNT(a, transpose(b, k, n), m, n, k);
}

/** Result of {@link pivotedCholesky}: S[perm[i], perm[j]] ≈ Σ_{q<rank} L[i,q]·L[j,q]. */
export interface PivotedCholesky {
  /** Numerical rank (number of pivots above the tolerance). */
  rank: number;
  /** Row permutation (length n). */
  perm: Int32Array;
  /** Lᵀ, row-major rank×n: row q holds column q of L (zero before index q). */
  lt: Float64Array;
}

/**
 * Pivoted (diagonal pivoting) Cholesky factorisation of a symmetric positive
 * semi-definite matrix, as LAPACK `dpstrf`: stops when the largest remaining diagonal
 * is <= `tol` (default n · ε · max diag), which gives the numerical rank.
 * Left-looking: column q needs only dot products of already computed rows.
 */
export function pivotedCholesky(s: Float64Array, n: number, tol?: number): PivotedCholesky {
  if (s.length !== n * n) throw new ValueError(`pivotedCholesky: expected ${n}x${n}=${n * n} elements, got ${s.length}`);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const diag = new Float64Array(n);
  let maxDiag = 0;
  for (let i = 0; i < n; i++) {
    diag[i] = s[i * n + i];
    if (!Number.isFinite(diag[i])) throw new ValueError(`pivotedCholesky: diagonal entry ${i} is ${diag[i]}`);
    if (diag[i] > maxDiag) maxDiag = diag[i];
  }
  const tolerance = tol ?? n * Number.EPSILON * maxDiag;
  // Rows of L in pivot order, each of length n (row i uses columns < min(i, rank)).
  const l = new Float64Array(n * n);
  let rank = 0;
  for (let q = 0; q < n; q++) {
    let p = q;
    for (let i = q + 1; i < n; i++) if (diag[i] > diag[p]) p = i;
    if (!(diag[p] > tolerance)) break;
    if (p !== q) {
      const t = perm[p];
      perm[p] = perm[q];
      perm[q] = t;
      const td = diag[p];
      diag[p] = diag[q];
      diag[q] = td;
      // Swap the computed parts of rows p and q of L.
      const rp = p * n,
        rq = q * n;
      for (let c = 0; c < q; c++) {
        const x = l[rp + c];
        l[rp + c] = l[rq + c];
        l[rq + c] = x;
      }
    }
    const lqq = Math.sqrt(diag[q]);
    const rq = q * n;
    l[rq + q] = lqq;
    const sRow = perm[q] * n;
    const inv = 1 / lqq;
    for (let i = q + 1; i < n; i++) {
      const ri = i * n;
      let acc = s[sRow + perm[i]];
      for (let c = 0; c < q; c++) acc -= l[ri + c] * l[rq + c];
      const v = acc * inv;
      l[ri + q] = v;
      diag[i] -= v * v;
    }
    rank = q + 1;
  }
  const lt = new Float64Array(rank * n);
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    const cEnd = Math.min(i + 1, rank);
    for (let c = 0; c < cEnd; c++) lt[c * n + i] = l[ri + c];
  }
  return { rank, perm, lt };
}

/**
 * Householder reduction of a symmetric matrix to tridiagonal form T = Qᵀ A Q.
 * Returns the diagonal `d` and sub-diagonal `e` (e[i] couples i and i+1, e[n-1] = 0)
 * and, when `wantQt`, Qᵀ (row-major n×n). Only the upper triangle of `a` (j >= i) is
 * read, and it is overwritten as work space. The rank-2 update of step k and the
 * symmetric product A·v of step k+1 run in one pass over the trailing upper triangle, so
 * each step reads and writes each stored element once, along rows.
 */
export function tridiagonalize(a: Float64Array, n: number, wantQt = false): { d: Float64Array; e: Float64Array; qt?: Float64Array } {
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const vs: Float64Array[] = [];
  const betas = new Float64Array(Math.max(n, 1));
  if (n === 0) return { d, e, qt: wantQt ? new Float64Array(0) : undefined };
  if (n === 1) {
    d[0] = a[0];
    return { d, e, qt: wantQt ? Float64Array.of(1) : undefined };
  }

  /** Reflector of step k from row k (entries k+1..n-1 = column k below the diagonal). */
  const reflector = (k: number, out: Float64Array): number => {
    const rk = k * n;
    let sig = 0;
    for (let j = k + 2; j < n; j++) sig += a[rk + j] * a[rk + j];
    const x0 = a[rk + k + 1];
    if (sig === 0) {
      e[k] = x0;
      return 0;
    }
    const norm = Math.sqrt(x0 * x0 + sig);
    const alpha = x0 >= 0 ? -norm : norm;
    out[k + 1] = x0 - alpha;
    for (let j = k + 2; j < n; j++) out[j] = a[rk + j];
    e[k] = alpha;
    return 2 / (out[k + 1] * out[k + 1] + sig);
  };

  /** p[first..] += (upper-stored trailing block from `first`)·v, symmetric product. */
  const symv = (first: number, v: Float64Array, p: Float64Array): void => {
    for (let i = first; i < n; i++) {
      const ri = i * n;
      const vi = v[i];
      let s = a[ri + i] * vi;
      for (let j = i + 1; j < n; j++) {
        const x = a[ri + j];
        s += x * v[j];
        p[j] += x * vi;
      }
      p[i] += s;
    }
  };

  let v = new Float64Array(n);
  let p = new Float64Array(n);
  const w = new Float64Array(n);
  let beta = n > 2 ? reflector(0, v) : 0;
  if (beta !== 0) {
    symv(1, v, p);
    for (let i = 1; i < n; i++) p[i] *= beta;
  }
  for (let k = 0; k < n - 2; k++) {
    d[k] = a[k * n + k];
    const k1 = k + 1;
    if (wantQt) {
      vs.push(beta !== 0 ? v.slice() : new Float64Array(0));
      betas[k] = beta;
    }
    const nextV = new Float64Array(n);
    const nextP = new Float64Array(n);
    let nextBeta = 0;
    const hasNext = k1 < n - 2;
    if (beta !== 0) {
      let vp = 0;
      for (let j = k1; j < n; j++) vp += v[j] * p[j];
      const K = 0.5 * beta * vp;
      for (let j = k1; j < n; j++) w[j] = p[j] - K * v[j];
      // Row k+1 first: it gives the next reflector.
      {
        const ri = k1 * n,
          vi = v[k1],
          wi = w[k1];
        for (let j = k1; j < n; j++) a[ri + j] -= vi * w[j] + wi * v[j];
        if (hasNext) nextBeta = reflector(k1, nextV);
      }
      if (nextBeta !== 0) {
        for (let i = k1 + 1; i < n; i++) {
          const ri = i * n;
          const vi = v[i],
            wi = w[i],
            ui = nextV[i];
          const xd = a[ri + i] - 2 * vi * wi;
          a[ri + i] = xd;
          let s = xd * ui;
          for (let j = i + 1; j < n; j++) {
            const x = a[ri + j] - (vi * w[j] + wi * v[j]);
            a[ri + j] = x;
            s += x * nextV[j];
            nextP[j] += x * ui;
          }
          nextP[i] += s;
        }
        for (let i = k1 + 1; i < n; i++) nextP[i] *= nextBeta;
      } else {
        for (let i = k1 + 1; i < n; i++) {
          const ri = i * n;
          const vi = v[i],
            wi = w[i];
          for (let j = i; j < n; j++) a[ri + j] -= vi * w[j] + wi * v[j];
        }
      }
    } else if (hasNext) {
      nextBeta = reflector(k1, nextV);
      if (nextBeta !== 0) {
        symv(k1 + 1, nextV, nextP);
        for (let i = k1 + 1; i < n; i++) nextP[i] *= nextBeta;
      }
    }
    v = nextV;
    p = nextP;
    beta = nextBeta;
  }
  d[n - 2] = a[(n - 2) * n + n - 2];
  d[n - 1] = a[(n - 1) * n + n - 1];
  e[n - 2] = a[(n - 2) * n + n - 1];
  e[n - 1] = 0;

  let qt: Float64Array | undefined;
  if (wantQt) {
    // Qᵀ = H_{n-3} ··· H_0 = I·H_{n-3}·…·H_0: apply reflectors from the right, last first,
    // so each touches only the non-trivial trailing block.
    qt = new Float64Array(n * n);
    for (let i = 0; i < n; i++) qt[i * n + i] = 1;
    for (let k = vs.length - 1; k >= 0; k--) {
      const bk = betas[k];
      if (bk === 0) continue;
      const vk = vs[k];
      for (let i = k + 1; i < n; i++) {
        const ri = i * n;
        let s = 0;
        for (let j = k + 1; j < n; j++) s += qt[ri + j] * vk[j];
        s *= bk;
        if (s === 0) continue;
        for (let j = k + 1; j < n; j++) qt[ri + j] -= s * vk[j];
      }
    }
  }
  return { d, e, qt };
}

/**
 * Eigenvalues (and optionally eigenvectors) of a symmetric tridiagonal matrix by the
 * implicit-shift QL algorithm. `d` (diagonal) is overwritten with the eigenvalues
 * (unsorted), `e` (e[i] couples i and i+1) is destroyed. When `zt` is given (row-major
 * n×n, initially Qᵀ of the tridiagonalisation, or I), its rows are rotated so that on
 * return row i is the eigenvector of d[i].
 */
export function tridiagonalQL(d: Float64Array, e: Float64Array, zt?: Float64Array): void {
  const n = d.length;
  const eps = Number.EPSILON;
  for (let l = 0; l < n; l++) {
    let iter = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= eps * dd) break;
      }
      if (m === l) break;
      if (++iter > 60)
        throw new ValueError(`symmetric eigensolver: QL did not converge for eigenvalue ${l} after 60 iterations (non-finite input?)`);
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1,
        c = 1,
        p = 0;
      let i = m - 1;
      let underflow = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] -= p;
          e[m] = 0;
          underflow = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (zt) {
          const r0 = i * n,
            r1 = r0 + n;
          for (let q = 0; q < n; q++) {
            const z1 = zt[r1 + q];
            const z0 = zt[r0 + q];
            zt[r1 + q] = s * z0 + c * z1;
            zt[r0 + q] = c * z0 - s * z1;
          }
        }
      }
      if (underflow) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Eigenvalues of a symmetric matrix (row-major n×n; not modified), unsorted. */
export function symmetricEigenvalues(a: Float64Array, n: number): Float64Array {
  if (a.length !== n * n) throw new ValueError(`symmetricEigenvalues: expected ${n}x${n}=${n * n} elements, got ${a.length}`);
  const work = a.slice();
  const { d, e } = tridiagonalize(work, n, false);
  tridiagonalQL(d, e);
  return d;
}

/**
 * Eigen-decomposition A = Z diag(values) Zᵀ of a symmetric matrix (not modified).
 * Returns the values in ascending order and `vectors` row-major with row i the unit
 * eigenvector of values[i].
 */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) throw new ValueError(`symmetricEigen: expected ${n}x${n}=${n * n} elements, got ${a.length}`);
  const work = a.slice();
  const { d, e, qt } = tridiagonalize(work, n, true);
  tridiagonalQL(d, e, qt);
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x] - d[y]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src];
    vectors.set(qt!.subarray(src * n, src * n + n), dst * n);
  });
  return { values, vectors };
}
