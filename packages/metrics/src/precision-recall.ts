/**
 * Improved precision and recall (Kynkäänniemi et al. 2019), Euclidean, k-NN manifolds.
 */
import { checkFeatures, checkFinite, rowsAsFloat64, type Features } from './features.js';
import { ShapeError, ValueError } from './errors.js';
import { gemmNT } from './linalg.js';

export interface PrecisionRecallOptions {
  /** Neighbourhood size (default 3). */
  k?: number;
  /** Rows per distance block (default 256): bounds memory at blockSize × n float64. */
  blockSize?: number;
}

export interface PrecisionRecallResult {
  precision: number;
  recall: number;
  /** Fake vectors inside the real manifold. */
  precisionCount: number;
  /** Real vectors inside the fake manifold. */
  recallCount: number;
  /** Radius of every real vector (distance to its k-th nearest real neighbour). */
  radiiReal: Float64Array;
  radiiFake: Float64Array;
  /** 1 where fake vector i lies in the real manifold. */
  fakeInRealManifold: Uint8Array;
  realInFakeManifold: Uint8Array;
}

function sqNorms(x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += x[i * d + j] * x[i * d + j];
    out[i] = s;
  }
  return out;
}

/** All of a set as float64 plus its squared norms. */
function prepared(f: Features) {
  const x = rowsAsFloat64(f, 0, f.n);
  return { x, norms: sqNorms(x, f.n, f.d), n: f.n };
}

type Prepared = ReturnType<typeof prepared>;

/**
 * Distance of every vector of `a` to its k-th nearest neighbour in `a`, the point itself
 * not counted: element k of the ascending row of distances that includes the (computed)
 * self-distance. Distances are √max(|a|² + |b|² − 2a·b, 0) in float64.
 */
export function manifoldRadii(a: Features, k = 3, blockSize = 256): Float64Array {
  checkFeatures(a, 'manifoldRadii', 1);
  if (!Number.isInteger(k) || k < 1) throw new ValueError(`manifoldRadii: k must be a positive integer, got ${k}`);
  if (a.n < k + 1) throw new ShapeError(`manifoldRadii: need more than k = ${k} vectors, got ${a.n}`);
  return radiiOf(prepared(a), a.d, k, blockSize);
}

function radiiOf(p: Prepared, d: number, k: number, blockSize: number): Float64Array {
  const { x, norms, n } = p;
  const radii = new Float64Array(n);
  const best = new Float64Array(k + 1);
  for (let r0 = 0; r0 < n; r0 += blockSize) {
    const rb = Math.min(blockSize, n - r0);
    const g = gemmNT(x.subarray(r0 * d, (r0 + rb) * d), x, rb, n, d);
    for (let i = 0; i < rb; i++) {
      best.fill(Infinity);
      const ni = norms[r0 + i];
      const go = i * n;
      for (let j = 0; j < n; j++) {
        const dist = Math.sqrt(Math.max(ni + norms[j] - 2 * g[go + j], 0));
        if (dist < best[k]) {
          // insertion into the sorted list of the k+1 smallest
          let t = k;
          while (t > 0 && best[t - 1] > dist) {
            best[t] = best[t - 1];
            t--;
          }
          best[t] = dist;
        }
      }
      radii[r0 + i] = best[k];
    }
  }
  return radii;
}

/** For every probe: 1 if dist(probe, xⱼ) <= radius(xⱼ) for some j. */
function inManifold(probes: Prepared, set: Prepared, radii: Float64Array, d: number, blockSize: number): Uint8Array {
  const out = new Uint8Array(probes.n);
  const n = set.n;
  for (let r0 = 0; r0 < probes.n; r0 += blockSize) {
    const rb = Math.min(blockSize, probes.n - r0);
    const g = gemmNT(probes.x.subarray(r0 * d, (r0 + rb) * d), set.x, rb, n, d);
    for (let i = 0; i < rb; i++) {
      const ni = probes.norms[r0 + i];
      const go = i * n;
      for (let j = 0; j < n; j++) {
        const dist = Math.sqrt(Math.max(ni + set.norms[j] - 2 * g[go + j], 0));
        if (dist <= radii[j]) {
          out[r0 + i] = 1;
          break;
        }
      }
    }
  }
  return out;
}

/**
 * Improved precision and recall with k-NN manifolds (k = 3 by default, as the ADM
 * evaluator): precision = fraction of fake vectors inside the real manifold, recall =
 * fraction of real vectors inside the fake manifold, where y is inside the manifold of
 * X when dist(y, x) <= radius(x) for at least one x ∈ X.
 */
export function precisionRecall(real: Features, fake: Features, opts: PrecisionRecallOptions = {}): PrecisionRecallResult {
  const k = opts.k ?? 3;
  const blockSize = opts.blockSize ?? 256;
  checkFeatures(real, 'precisionRecall: real', 1);
  checkFeatures(fake, 'precisionRecall: fake', 1);
  if (real.d !== fake.d) throw new ShapeError(`precisionRecall: real features have dimension ${real.d}, fake ${fake.d}`);
  if (!Number.isInteger(k) || k < 1) throw new ValueError(`precisionRecall: k must be a positive integer, got ${k}`);
  if (!Number.isInteger(blockSize) || blockSize < 1)
    throw new ValueError(`precisionRecall: blockSize must be a positive integer, got ${blockSize}`);
  if (real.n <= k || fake.n <= k)
    throw new ShapeError(`precisionRecall: each set needs more than k = ${k} vectors (real ${real.n}, fake ${fake.n})`);
  checkFinite(real.data, 'precisionRecall: real', real.d);
  checkFinite(fake.data, 'precisionRecall: fake', fake.d);
  const d = real.d;
  const pr = prepared(real);
  const pf = prepared(fake);
  const radiiReal = radiiOf(pr, d, k, blockSize);
  const radiiFake = radiiOf(pf, d, k, blockSize);
  const fakeInRealManifold = inManifold(pf, pr, radiiReal, d, blockSize);
  const realInFakeManifold = inManifold(pr, pf, radiiFake, d, blockSize);
  let precisionCount = 0,
    recallCount = 0;
  for (const v of fakeInRealManifold) precisionCount += v;
  for (const v of realInFakeManifold) recallCount += v;
  return {
    precision: precisionCount / fake.n,
    recall: recallCount / real.n,
    precisionCount,
    recallCount,
    radiiReal,
    radiiFake,
    fakeInRealManifold,
    realInFakeManifold,
  };
}
