/**
 * Kernel Inception Distance (Bińkowski et al. 2018): the unbiased estimator of the
 * squared MMD with the cubic polynomial kernel, averaged over random subsets.
 */
import { checkFeatures, checkFinite, gatherRows, type Features } from './features.js';
import { ShapeError, ValueError } from './errors.js';
import { gemmNT } from './linalg.js';

export interface KidOptions {
  /** Number of random subsets (default 100). */
  numSubsets?: number;
  /** Vectors drawn from each set per subset, without replacement (default 1000). */
  subsetSize?: number;
  /** Seed of the subset sampler (default 0). */
  seed?: number;
}

export interface KidResult {
  /** Mean of the per-subset MMD² estimates. */
  mean: number;
  /** Population standard deviation of the per-subset estimates. */
  std: number;
  values: number[];
}

/** k(x, y) = (x·y / d + 1)³. */
export function polynomialKernel(dot: number, d: number): number {
  const t = dot / d + 1;
  return t * t * t;
}

/**
 * Unbiased MMD² between X and Y (m rows each, row-major m×d) with k(x,y) = (x·y/d + 1)³:
 *
 *   MMD²ᵤ = 1/(m(m−1)) Σ_{i≠j} k(xᵢ,xⱼ) + 1/(m(m−1)) Σ_{i≠j} k(yᵢ,yⱼ) − 2/m² Σ_{i,j} k(xᵢ,yⱼ)
 *
 * (the estimator of torch-fidelity and clean-fid). Gram matrices come from one blocked
 * gemm each.
 */
export function mmdUnbiased(x: Float64Array, y: Float64Array, m: number, d: number): number {
  if (m < 2) throw new ShapeError(`mmdUnbiased: need at least 2 vectors per set, got ${m}`);
  if (x.length !== m * d || y.length !== m * d)
    throw new ShapeError(`mmdUnbiased: expected two ${m}x${d} matrices, got ${x.length} and ${y.length} values`);
  const gxx = gemmNT(x, x, m, m, d, undefined, { symmetric: true });
  const gyy = gemmNT(y, y, m, m, d, undefined, { symmetric: true });
  const gxy = gemmNT(x, y, m, m, d);
  let sxx = 0,
    syy = 0,
    sxy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      const o = i * m + j;
      if (i !== j) {
        sxx += polynomialKernel(gxx[o], d);
        syy += polynomialKernel(gyy[o], d);
      }
      sxy += polynomialKernel(gxy[o], d);
    }
  }
  return (sxx + syy) / (m * (m - 1)) - (2 * sxy) / (m * m);
}

/**
 * Unbiased MMD² between X (m rows) and Y (n rows) of dimension d, m ≠ n allowed, with
 * k(x,y) = (x·y/d + 1)³ — the standard unbiased estimator (Gretton et al. 2012, Lemma 6):
 *
 *   MMD²ᵤ = 1/(m(m−1)) Σ_{i≠j} k(xᵢ,xⱼ) + 1/(n(n−1)) Σ_{i≠j} k(yᵢ,yⱼ) − 2/(mn) Σ_{i,j} k(xᵢ,yⱼ)
 *
 * Equals {@link mmdUnbiased} when m = n.
 */
export function mmdUnbiasedUnequal(x: Float64Array, m: number, y: Float64Array, n: number, d: number): number {
  if (m < 2 || n < 2) throw new ShapeError(`mmdUnbiasedUnequal: need at least 2 vectors per set, got ${m} and ${n}`);
  if (x.length !== m * d || y.length !== n * d) {
    throw new ShapeError(`mmdUnbiasedUnequal: expected a ${m}x${d} and a ${n}x${d} matrix, got ${x.length} and ${y.length} values`);
  }
  const offDiagonal = (g: Float64Array, k: number) => {
    let s = 0;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j) s += polynomialKernel(g[i * k + j], d);
    return s;
  };
  const sxx = offDiagonal(gemmNT(x, x, m, m, d, undefined, { symmetric: true }), m);
  const syy = offDiagonal(gemmNT(y, y, n, n, d, undefined, { symmetric: true }), n);
  const gxy = gemmNT(x, y, m, n, d);
  let sxy = 0;
  for (let o = 0; o < m * n; o++) sxy += polynomialKernel(gxy[o], d);
  return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - (2 * sxy) / (m * n);
}

/**
 * KID of the full sets: the unbiased MMD² ({@link mmdUnbiasedUnequal}) between all real and all
 * fake features, whatever their sizes (n ≠ m allowed; at least 2 each). No subsets, no seed:
 * the estimate the subset version ({@link kernelInceptionDistance}) averages towards.
 * Cost O((n + m)² d).
 */
export function kernelInceptionDistanceFull(real: Features, fake: Features): number {
  checkFeatures(real, 'kernelInceptionDistanceFull: real', 2);
  checkFeatures(fake, 'kernelInceptionDistanceFull: fake', 2);
  if (real.d !== fake.d) throw new ShapeError(`kernelInceptionDistanceFull: real features have dimension ${real.d}, fake ${fake.d}`);
  checkFinite(real.data, 'kernelInceptionDistanceFull: real', real.d);
  checkFinite(fake.data, 'kernelInceptionDistanceFull: fake', fake.d);
  const f64 = (a: Float32Array | Float64Array) => (a instanceof Float64Array ? a : Float64Array.from(a));
  return mmdUnbiasedUnequal(f64(real.data), real.n, f64(fake.data), fake.n, real.d);
}

/** Small seeded generator (splitmix32-style) for subset sampling. */
function makeRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

/** m distinct indices of [0, n) by a partial Fisher–Yates shuffle. */
function sampleWithoutReplacement(n: number, m: number, rand: () => number): Int32Array {
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, m);
}

/**
 * KID between real and fake features: the mean (and population std) over `numSubsets`
 * subsets of {@link mmdUnbiased}, each subset drawing `subsetSize` vectors without
 * replacement from each set with a seeded generator. When `subsetSize` equals both set
 * sizes and `numSubsets` is 1, this is the MMD² of the whole sets.
 */
export function kernelInceptionDistance(real: Features, fake: Features, opts: KidOptions = {}): KidResult {
  checkFeatures(real, 'kernelInceptionDistance: real', 2);
  checkFeatures(fake, 'kernelInceptionDistance: fake', 2);
  if (real.d !== fake.d) throw new ShapeError(`kernelInceptionDistance: real features have dimension ${real.d}, fake ${fake.d}`);
  const numSubsets = opts.numSubsets ?? 100;
  const subsetSize = opts.subsetSize ?? 1000;
  if (!Number.isInteger(numSubsets) || numSubsets < 1)
    throw new ValueError(`kernelInceptionDistance: numSubsets must be a positive integer, got ${numSubsets}`);
  if (!Number.isInteger(subsetSize) || subsetSize < 2)
    throw new ValueError(`kernelInceptionDistance: subsetSize must be an integer >= 2, got ${subsetSize}`);
  if (subsetSize > real.n || subsetSize > fake.n) {
    throw new ShapeError(
      `kernelInceptionDistance: subsetSize ${subsetSize} exceeds the number of vectors (real ${real.n}, fake ${fake.n}); pass a smaller subsetSize`,
    );
  }
  checkFinite(real.data, 'kernelInceptionDistance: real', real.d);
  checkFinite(fake.data, 'kernelInceptionDistance: fake', fake.d);
  const rand = makeRandom(opts.seed ?? 0);
  const values: number[] = [];
  for (let s = 0; s < numSubsets; s++) {
    const x = gatherRows(real, sampleWithoutReplacement(real.n, subsetSize, rand));
    const y = gatherRows(fake, sampleWithoutReplacement(fake.n, subsetSize, rand));
    values.push(mmdUnbiased(x, y, subsetSize, real.d));
  }
  const mean = values.reduce((a, b) => a + b, 0) / numSubsets;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) * (b - mean), 0) / numSubsets);
  return { mean, std, values };
}
