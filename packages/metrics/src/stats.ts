/**
 * Streaming first and second moments of feature vectors in float64.
 */
import { checkFinite, type FloatArray } from './features.js';
import { ShapeError, ValueError } from './errors.js';
import { gemmNT } from './linalg.js';

/** Rows per internal chunk: bounds the temporary (d × CHUNK float64) buffer. */
const CHUNK = 512;

/**
 * Running mean and covariance of feature vectors, added batch by batch, so that e.g.
 * 50,000 × 2048 features never sit in memory at once.
 *
 * Each chunk is centred on its own mean and merged with the running statistics by the
 * pairwise update of Chan, Golub & LeVeque (exact in exact arithmetic, and free of the
 * cancellation of Σxxᵀ − n·μμᵀ). `sigma()` uses the N−1 denominator, like
 * `numpy.cov(x, rowvar=False)`.
 */
export class FeatureStats {
  readonly dim: number;
  private n = 0;
  private readonly mean: Float64Array;
  /** Σ (x−μ)(x−μ)ᵀ, full symmetric d×d. */
  private readonly m2: Float64Array;
  /** When built from (mu, sigma) without raw features. */
  private fixedSigma: Float64Array | null = null;

  constructor(dim: number) {
    if (!Number.isInteger(dim) || dim < 1) throw new ValueError(`FeatureStats: dim must be a positive integer, got ${dim}`);
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim * dim);
  }

  /** Number of feature vectors added so far. */
  get count(): number {
    return this.n;
  }

  /**
   * Add `n` feature vectors of dimension `d` (row-major `batch`, length n·d). `d` must
   * equal the dimension given to the constructor. Returns `this`.
   */
  add(batch: FloatArray | ArrayLike<number>, n: number, d: number = this.dim): this {
    if (this.fixedSigma) throw new ValueError('FeatureStats: cannot add features to statistics built from (mu, sigma)');
    if (d !== this.dim) throw new ShapeError(`FeatureStats.add: expected feature dimension ${this.dim}, got ${d}`);
    if (!Number.isInteger(n) || n < 0) throw new ShapeError(`FeatureStats.add: n must be a non-negative integer, got ${n}`);
    if (batch.length !== n * d) throw new ShapeError(`FeatureStats.add: expected n*d = ${n}*${d} = ${n * d} values, got ${batch.length}`);
    checkFinite(batch, 'FeatureStats.add: features', d);
    const chunk = new Float64Array(d * Math.min(CHUNK, Math.max(n, 1)));
    const bm = new Float64Array(d);
    const scatter = new Float64Array(d * d);
    for (let r0 = 0; r0 < n; r0 += CHUNK) {
      const nb = Math.min(CHUNK, n - r0);
      bm.fill(0);
      for (let r = 0; r < nb; r++) {
        const o = (r0 + r) * d;
        for (let j = 0; j < d; j++) bm[j] += batch[o + j];
      }
      for (let j = 0; j < d; j++) bm[j] /= nb;
      // Centred chunk, transposed to d × nb so the scatter is a gemm of contiguous rows.
      for (let r = 0; r < nb; r++) {
        const o = (r0 + r) * d;
        for (let j = 0; j < d; j++) chunk[j * nb + r] = batch[o + j] - bm[j];
      }
      gemmNT(chunk, chunk, d, d, nb, scatter, { symmetric: true });
      const na = this.n;
      const tot = na + nb;
      const f = (na * nb) / tot;
      const delta = new Float64Array(d);
      for (let j = 0; j < d; j++) delta[j] = bm[j] - this.mean[j];
      const m2 = this.m2;
      for (let i = 0; i < d; i++) {
        const di = delta[i] * f;
        const o = i * d;
        for (let j = 0; j < d; j++) m2[o + j] += scatter[o + j] + di * delta[j];
      }
      for (let j = 0; j < d; j++) this.mean[j] += (delta[j] * nb) / tot;
      this.n = tot;
    }
    return this;
  }

  /** Merge another FeatureStats (same dimension) into this one. */
  merge(other: FeatureStats): this {
    if (other.dim !== this.dim) throw new ShapeError(`FeatureStats.merge: dimension ${other.dim} != ${this.dim}`);
    if (this.fixedSigma || other.fixedSigma) throw new ValueError('FeatureStats.merge: statistics built from (mu, sigma) cannot be merged');
    const nb = other.n;
    if (nb === 0) return this;
    const na = this.n,
      tot = na + nb,
      f = (na * nb) / tot,
      d = this.dim;
    const delta = new Float64Array(d);
    for (let j = 0; j < d; j++) delta[j] = other.mean[j] - this.mean[j];
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) this.m2[i * d + j] += other.m2[i * d + j] + f * delta[i] * delta[j];
    }
    for (let j = 0; j < d; j++) this.mean[j] += (delta[j] * nb) / tot;
    this.n = tot;
    return this;
  }

  /** Mean vector (copy, length d). */
  mu(): Float64Array {
    if (this.n === 0 && !this.fixedSigma) throw new ValueError('FeatureStats.mu: no features added');
    return this.mean.slice();
  }

  /** Sample covariance (N−1 denominator), row-major d×d (copy). Needs at least 2 vectors. */
  sigma(): Float64Array {
    if (this.fixedSigma) return this.fixedSigma.slice();
    if (this.n < 2) throw new ValueError(`FeatureStats.sigma: the sample covariance needs at least 2 feature vectors, got ${this.n}`);
    const s = new Float64Array(this.m2.length);
    const inv = 1 / (this.n - 1);
    for (let i = 0; i < s.length; i++) s[i] = this.m2[i] * inv;
    return s;
  }

  /** Statistics of a whole feature matrix at once. */
  static fromFeatures(data: FloatArray, n: number, d: number): FeatureStats {
    return new FeatureStats(d).add(data, n, d);
  }

  /**
   * Statistics given by their mean and covariance (e.g. a reference batch's `mu` and
   * `sigma`). `count` is informational. Such statistics cannot take more features.
   */
  static fromMoments(mu: ArrayLike<number>, sigma: ArrayLike<number>, count = 0): FeatureStats {
    const d = mu.length;
    if (sigma.length !== d * d)
      throw new ShapeError(
        `FeatureStats.fromMoments: sigma must be ${d}x${d} (= ${d * d} values) for a mean of length ${d}, got ${sigma.length}`,
      );
    checkFinite(mu, 'FeatureStats.fromMoments: mu');
    checkFinite(sigma, 'FeatureStats.fromMoments: sigma', d);
    const s = new FeatureStats(d);
    s.mean.set(mu);
    s.fixedSigma = Float64Array.from(sigma);
    s.n = count;
    return s;
  }
}
