/**
 * Inception Score (Salimans et al. 2016) from classifier logits, in float64.
 */
import { checkFeatures, checkFinite, type Features } from './features.js';
import { ShapeError, ValueError } from './errors.js';

export interface InceptionScoreOptions {
  /** Number of consecutive blocks (default 10). Rows past splits·⌊n/splits⌋ are ignored. */
  splits?: number;
}

export interface InceptionScoreResult {
  /** Mean of the block scores. */
  mean: number;
  /** Population standard deviation (ddof = 0) of the block scores. */
  std: number;
  /** Score of each block. */
  splits: number[];
}

/**
 * IS from logits (n×K, row-major): p = softmax(logits) row-wise; the rows are cut into
 * `splits` consecutive blocks of ⌊n/splits⌋ rows; in each block q = mean of its rows and
 * the block score is exp(mean over rows of KL(p‖q) = Σⱼ pⱼ (log pⱼ − log qⱼ)).
 * Terms with pⱼ = 0 contribute 0. (This is the convention of the original code and of
 * torch-fidelity; the ADM evaluator uses fixed blocks of 5,000 rows instead, which is
 * the same thing for 50,000 samples and 10 splits.)
 */
export function inceptionScore(logits: Features, opts: InceptionScoreOptions = {}): InceptionScoreResult {
  checkFeatures(logits, 'inceptionScore: logits', 1);
  const splits = opts.splits ?? 10;
  const { data, n, d: k } = logits;
  if (!Number.isInteger(splits) || splits < 1) throw new ValueError(`inceptionScore: splits must be a positive integer, got ${splits}`);
  if (n < splits) throw new ShapeError(`inceptionScore: need at least one row per split (${splits} splits), got ${n} rows`);
  checkFinite(data, 'inceptionScore: logits', k);
  const block = Math.floor(n / splits);
  const logp = new Float64Array(block * k);
  const p = new Float64Array(block * k);
  const q = new Float64Array(k);
  const scores: number[] = [];
  for (let s = 0; s < splits; s++) {
    q.fill(0);
    for (let r = 0; r < block; r++) {
      const o = (s * block + r) * k;
      let mx = -Infinity;
      for (let j = 0; j < k; j++) if (data[o + j] > mx) mx = data[o + j];
      let z = 0;
      for (let j = 0; j < k; j++) z += Math.exp(data[o + j] - mx);
      const lz = Math.log(z);
      const po = r * k;
      for (let j = 0; j < k; j++) {
        const lp = data[o + j] - mx - lz;
        logp[po + j] = lp;
        const pj = Math.exp(data[o + j] - mx) / z;
        p[po + j] = pj;
        q[j] += pj;
      }
    }
    for (let j = 0; j < k; j++) q[j] /= block;
    const logq = q.map((x) => Math.log(x));
    let klSum = 0;
    for (let r = 0; r < block; r++) {
      const po = r * k;
      let kl = 0;
      for (let j = 0; j < k; j++) {
        const pj = p[po + j];
        if (pj > 0) kl += pj * (logp[po + j] - logq[j]);
      }
      klSum += kl;
    }
    scores.push(Math.exp(klSum / block));
  }
  const mean = scores.reduce((a, b) => a + b, 0) / splits;
  const std = Math.sqrt(scores.reduce((a, b) => a + (b - mean) * (b - mean), 0) / splits);
  return { mean, std, splits: scores };
}
