/**
 * Fréchet Inception Distance in float64.
 *
 *   FID = |μ₁ − μ₂|² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^{1/2}
 *
 * tr (Σ₁Σ₂)^{1/2} is computed without forming the non-symmetric product: for any factor
 * F with F·Fᵀ = Σ₁, Σ₁Σ₂ = F(FᵀΣ₂F)F⁻¹ (on the range of F), so the eigenvalues of Σ₁Σ₂
 * are those of the symmetric positive semi-definite C = FᵀΣ₂F, and
 * tr (Σ₁Σ₂)^{1/2} = Σᵢ √max(λᵢ(C), 0). C's eigenvalues come from a Householder
 * tridiagonalisation and implicit QL (values only). F is either
 *  - `'cholesky'` (default): a pivoted Cholesky factor of Σ₁ (rank-revealing, so
 *    rank-deficient Σ₁ works), about 1.8·d³ multiply-adds in all; or
 *  - `'eigen'`: F = V·Λ^{1/2} from the eigen-decomposition Σ₁ = VΛVᵀ, i.e. C is similar to
 *    Σ₁^{1/2} Σ₂ Σ₁^{1/2}; slower (the eigenvectors cost several d³).
 * This is the value scipy's `sqrtm(Σ₁Σ₂)` gives (pytorch-fid, the ADM evaluator), up to
 * rounding, also for rank-deficient covariances. The reference retries with εI added to
 * both covariances when its square root is not finite; here the same retry happens when
 * the factorisation fails. The reference rejects a square root whose diagonal has an
 * imaginary part above 1e-3; here a negative eigenvalue λ of C with √(−λ) > 1e-3 (a
 * covariance that is not positive semi-definite) is rejected the same way.
 */
import { FeatureStats } from './stats.js';
import { checkFinite, type FloatArray } from './features.js';
import { ShapeError, ValueError } from './errors.js';
import { gemmNT, pivotedCholesky, symmetricEigen, tridiagonalize, tridiagonalQL } from './linalg.js';

export type FidMethod = 'cholesky' | 'eigen';

export interface FidOptions {
  /** How Σ₁ is factored (see module docs). Default `'cholesky'`. */
  method?: FidMethod;
  /** Offset added to both diagonals on retry (default 1e-6, as the reference). */
  eps?: number;
}

export interface FidResult {
  fid: number;
  /** tr (Σ₁Σ₂)^{1/2}. */
  traceSqrtProduct: number;
  /** |μ₁ − μ₂|². */
  meanTerm: number;
  traceSigma1: number;
  traceSigma2: number;
  /** Whether εI had to be added to both covariances. */
  retriedWithEps: boolean;
  /** √max(−λ_min, 0) over the eigenvalues of C: the size of the imaginary part the reference would see. */
  imaginaryMagnitude: number;
  /** Rank of Σ₁ used by the factor. */
  rankSigma1: number;
  method: FidMethod;
}

/** A symmetric factor Fᵀ (rank × d, row-major) of Σ₁ and the matching (permuted) Σ₂. */
function factor(sigma1: Float64Array, sigma2: Float64Array, d: number, method: FidMethod) {
  if (method === 'cholesky') {
    const { rank, perm, lt } = pivotedCholesky(sigma1, d);
    const s2p = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      const src = perm[i] * d,
        dst = i * d;
      for (let j = 0; j < d; j++) s2p[dst + j] = sigma2[src + perm[j]];
    }
    return { ft: lt, rank, s2: s2p, triangular: true };
  }
  const { values, vectors } = symmetricEigen(sigma1, d);
  // Rank-revealing cut as for the Cholesky route: eigenvalues at round-off level
  // (<= d·ε·λ_max) are zero.
  const tol = d * Number.EPSILON * Math.max(0, values[d - 1]);
  const keep: number[] = [];
  for (let i = 0; i < d; i++) if (values[i] > tol) keep.push(i);
  const ft = new Float64Array(keep.length * d);
  keep.forEach((src, r) => {
    const s = Math.sqrt(values[src]);
    for (let j = 0; j < d; j++) ft[r * d + j] = s * vectors[src * d + j];
  });
  return { ft, rank: keep.length, s2: sigma2, triangular: false };
}

/** tr (Σ₁Σ₂)^{1/2} and the most negative eigenvalue of C. */
export function traceSqrtProduct(
  sigma1: Float64Array,
  sigma2: Float64Array,
  d: number,
  method: FidMethod = 'cholesky',
): { trace: number; minEigenvalue: number; rank: number } {
  const { ft, rank, s2, triangular } = factor(sigma1, sigma2, d, method);
  if (rank === 0) return { trace: 0, minEigenvalue: 0, rank };
  // Wᵀ = Fᵀ·Σ₂ (Σ₂ symmetric), C = Fᵀ·W = Fᵀ·(Wᵀ)ᵀ.
  const wt = gemmNT(ft, s2, rank, d, d, undefined, { aUpperTriangular: triangular });
  const c = gemmNT(ft, wt, rank, rank, d, undefined, { aUpperTriangular: triangular, symmetric: true });
  const { d: diag, e } = tridiagonalize(c, rank, false);
  tridiagonalQL(diag, e);
  let trace = 0;
  let minEigenvalue = Infinity;
  for (let i = 0; i < rank; i++) {
    const l = diag[i];
    if (l < minEigenvalue) minEigenvalue = l;
    if (l > 0) trace += Math.sqrt(l);
  }
  return { trace, minEigenvalue, rank };
}

/**
 * FID between two Gaussians given by mean and covariance (row-major d×d, float64 or
 * float32). Throws ShapeError for mismatched sizes, NonFiniteError for NaN/Infinity and
 * ValueError when a covariance is clearly not positive semi-definite.
 */
export function frechetDistance(
  mu1: ArrayLike<number>,
  sigma1: ArrayLike<number>,
  mu2: ArrayLike<number>,
  sigma2: ArrayLike<number>,
  opts: FidOptions = {},
): FidResult {
  const d = mu1.length;
  if (d < 1) throw new ShapeError('frechetDistance: mu1 is empty');
  if (mu2.length !== d) throw new ShapeError(`frechetDistance: mu1 has length ${d} but mu2 has length ${mu2.length}`);
  if (sigma1.length !== d * d) throw new ShapeError(`frechetDistance: sigma1 must be ${d}x${d} (${d * d} values), got ${sigma1.length}`);
  if (sigma2.length !== d * d) throw new ShapeError(`frechetDistance: sigma2 must be ${d}x${d} (${d * d} values), got ${sigma2.length}`);
  checkFinite(mu1, 'frechetDistance: mu1');
  checkFinite(mu2, 'frechetDistance: mu2');
  checkFinite(sigma1, 'frechetDistance: sigma1', d);
  checkFinite(sigma2, 'frechetDistance: sigma2', d);
  const method = opts.method ?? 'cholesky';
  if (method !== 'cholesky' && method !== 'eigen')
    throw new ValueError(`frechetDistance: method must be 'cholesky' or 'eigen', got ${String(method)}`);
  const eps = opts.eps ?? 1e-6;
  const s1 = Float64Array.from(sigma1);
  const s2 = Float64Array.from(sigma2);

  let meanTerm = 0;
  for (let i = 0; i < d; i++) {
    const t = mu1[i] - mu2[i];
    meanTerm += t * t;
  }
  let tr1 = 0,
    tr2 = 0;
  for (let i = 0; i < d; i++) {
    tr1 += s1[i * d + i];
    tr2 += s2[i * d + i];
  }

  let retriedWithEps = false;
  let res: { trace: number; minEigenvalue: number; rank: number };
  try {
    res = traceSqrtProduct(s1, s2, d, method);
    if (!Number.isFinite(res.trace)) throw new ValueError('non-finite trace');
  } catch (err) {
    retriedWithEps = true;
    for (let i = 0; i < d; i++) {
      s1[i * d + i] += eps;
      s2[i * d + i] += eps;
    }
    try {
      res = traceSqrtProduct(s1, s2, d, method);
    } catch (err2) {
      throw new ValueError(`frechetDistance: the square root of Σ₁Σ₂ could not be computed, even with ${eps}·I added to both covariances`, {
        cause: err2,
      });
    }
    if (!Number.isFinite(res.trace)) {
      throw new ValueError(`frechetDistance: tr sqrt(Σ₁Σ₂) is ${res.trace}, even with ${eps}·I added to both covariances`, { cause: err });
    }
  }
  const imaginaryMagnitude = res.minEigenvalue < 0 ? Math.sqrt(-res.minEigenvalue) : 0;
  if (imaginaryMagnitude > 1e-3) {
    throw new ValueError(
      `frechetDistance: Σ₁Σ₂ has a negative eigenvalue ${res.minEigenvalue.toExponential(3)} (imaginary square root ${imaginaryMagnitude.toExponential(3)} > 1e-3); ` +
        'are both covariance matrices symmetric positive semi-definite?',
    );
  }
  const trace = res.trace;
  return {
    fid: meanTerm + tr1 + tr2 - 2 * trace,
    traceSqrtProduct: trace,
    meanTerm,
    traceSigma1: tr1,
    traceSigma2: tr2,
    retriedWithEps,
    imaginaryMagnitude,
    rankSigma1: res.rank,
    method,
  };
}

/** FID between two {@link FeatureStats} (e.g. streamed features, or a reference batch). */
export function fidFromStats(a: FeatureStats, b: FeatureStats, opts: FidOptions = {}): FidResult {
  if (a.dim !== b.dim) throw new ShapeError(`fidFromStats: feature dimensions differ (${a.dim} vs ${b.dim})`);
  return frechetDistance(a.mu(), a.sigma(), b.mu(), b.sigma(), opts);
}

/** FID between two feature matrices (n₁×d and n₂×d, row-major). */
export function fidFromFeatures(
  real: FloatArray,
  nReal: number,
  fake: FloatArray,
  nFake: number,
  d: number,
  opts: FidOptions = {},
): FidResult {
  return fidFromStats(FeatureStats.fromFeatures(real, nReal, d), FeatureStats.fromFeatures(fake, nFake, d), opts);
}
