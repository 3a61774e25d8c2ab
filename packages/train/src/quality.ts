/**
 * Quality of a class-conditional digit model (tokenizer + VAR), measured with @var/metrics'
 * digit classifier on a held-out split:
 *
 * - `recAccuracy`: classifier accuracy on tokenizer reconstructions of held-out digits
 *   (`realAccuracy`: on the originals), `recPsnr`, and `recFid`: FID (classifier features)
 *   of the reconstructions against the originals;
 * - `genAccuracy`: the fraction of generated digits classified as the requested class
 *   (`perClass` of each class, with the given cfg / top-k / top-p), and `genFid`: FID of
 *   the generated digits against the held-out originals.
 *
 * This is the measurement behind the shipped MNIST model's card (experiments/quality.mjs) and
 * the lower bounds CI asserts on a small sample.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ValueError } from '@var/core';
import { batches, subset } from '@var/data';
import { DigitClassifier, FeatureStats, fidFromStats } from '@var/metrics';
import { generate } from '@var/sampling';
import type { VAR } from '@var/transformer';
import type { VQVAE } from '@var/tokenizer';
import type { LoadedDataset } from './dataset.js';
import { digitFitFor, psnrFromMse, spreadIndices } from './eval.js';

export interface DigitQualityOptions {
  /** Held-out digits to reconstruct and to compare against (spread evenly over the split; default all). */
  heldOut?: number;
  /** Generated digits per class (default 100: 1,000 for 10 classes). 0 skips generation. */
  perClass?: number;
  /** Classifier-free guidance (default 2). */
  cfg?: number;
  /** Guidance schedule (@var/sampling's `cfgSchedule`; default that of the model's order: linear for VAR, constant for raster). */
  cfgSchedule?: 'linear' | 'constant';
  /** Top-k filter (default 0 = off). */
  topK?: number;
  /** Top-p filter (default 0 = off). */
  topP?: number;
  moreSmooth?: boolean;
  /** Seed of the sampling (default 0). */
  seed?: number;
  /** Images per forward pass (default 50). */
  batchSize?: number;
  /** The digit classifier (default: @var/metrics' shipped one, fitted to the dataset: padded MNIST is centre-cropped). */
  classifier?: DigitClassifier;
  /**
   * Also measure the FIDs a perfect sampler would get, as references for `genFid` (default false):
   * `trainRealFid`, `perClass` × classes training digits (unpaired with the held-out ones) against
   * the held-out digits; `trainRecFid`, the tokenizer's reconstructions of those same training
   * digits (a VAR that reproduced its training tokens exactly). `recFid` reconstructs the held-out
   * digits themselves, so it is paired and lower.
   */
  referenceFids?: boolean;
  onProgress?: (e: { stage: 'reconstruct' | 'generate' | 'reference'; done: number; total: number }) => void;
  signal?: AbortSignal;
}

export interface DigitQuality {
  heldOutImages: number;
  realAccuracy: number;
  recAccuracy: number;
  recPsnr: number;
  recFid: number;
  generated: number;
  genAccuracy?: number;
  /** Accuracy per requested class. */
  genAccuracyPerClass?: number[];
  genFid?: number;
  /** genFid / recFid (the goal: ≤ 2). */
  fidRatio?: number;
  /**
   * Variety within each class: the mean pairwise distance of generated digits' classifier
   * features divided by that of the held-out digits of the same class (1 = as varied as real
   * digits; near 0 = the same digit again and again), per class and averaged over classes.
   */
  diversityPerClass?: number[];
  diversityRatio?: number;
  /** With `referenceFids`: FID of unpaired real training digits, and of their reconstructions, against the held-out digits. */
  trainRealFid?: number;
  trainRecFid?: number;
  /** The settings used (`cfgSchedule` only when one was asked for). */
  sampling: { cfg: number; topK: number; topP: number; moreSmooth: boolean; seed: number; cfgSchedule?: 'linear' | 'constant' };
  seconds: { reconstruct: number; generate: number };
}

/**
 * Mean Euclidean distance over all pairs of the `n` rows (dimension `d`) of `f` (0 for fewer than 2 rows).
 * Uses ‖a−b‖ directly (O(n²·d)); fine for the few hundred rows per class measured here.
 */
export function meanPairwiseDistance(f: Float32Array, n: number, d: number): number {
  if (n < 2) return 0;
  let sum = 0;
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const t = f[i * d + k] - f[j * d + k];
        s += t * t;
      }
      sum += Math.sqrt(s);
    }
  return sum / ((n * (n - 1)) / 2);
}

/** Rows of features gathered per class. */
class ClassFeatures {
  private readonly rows: number[][][];
  constructor(
    numClasses: number,
    private readonly d: number,
  ) {
    this.rows = Array.from({ length: numClasses }, () => []);
  }
  add(features: Float32Array, labels: ArrayLike<number>): void {
    for (let i = 0; i < labels.length; i++) this.rows[labels[i]].push(Array.from(features.subarray(i * this.d, (i + 1) * this.d)));
  }
  meanDistance(c: number): number {
    const r = this.rows[c];
    const f = new Float32Array(r.length * this.d);
    r.forEach((row, i) => f.set(row, i * this.d));
    return meanPairwiseDistance(f, r.length, this.d);
  }
}

const argmaxRows = (logits: Float32Array, n: number, k: number): Int32Array => {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (logits[i * k + j] > logits[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
};

/** Images in [0, 1] with C channels → (B, 1, H, W) in [-1, 1]. */
function toClassifierInput(images: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => tf.sub(tf.mul(tf.mean(images, 1, true), 2), 1) as tf.Tensor4D);
}

/**
 * The images of `set` in batches, each with the tokenizer's reconstruction, the classifier's
 * features (and logits) of both as the classifier sees them (gray, [-1, 1]), and the squared
 * reconstruction error summed over the batch's `elements` values. Frees its tensors.
 */
async function* reconstructedBatches(
  vae: VQVAE,
  classifier: DigitClassifier,
  set: LoadedDataset['train'],
  ds: LoadedDataset,
  batchSize: number,
  signal?: AbortSignal,
): AsyncGenerator<{
  labels: ArrayLike<number>;
  size: number;
  elements: number;
  squaredError: number;
  real: ClassifierOut;
  rec: ClassifierOut;
}> {
  for await (const b of batches(set, { batchSize, ...ds.imageOptions, shuffle: false })) {
    signal?.throwIfAborted();
    const img = b.images;
    const idx = vae.imgToIdx(img);
    const r = vae.idxToImg(idx);
    tf.dispose(idx);
    try {
      const squaredError = tf.tidy(() => tf.sum(tf.squaredDifference(r, img)).dataSync()[0]);
      const gray = (t: tf.Tensor4D) => (t.shape[1] === 1 ? t : (tf.mean(t, 1, true) as tf.Tensor4D));
      const [ri, ii] = [gray(r), gray(img)];
      const real = await classifier.extract(ii);
      const rec = await classifier.extract(ri);
      if (ri !== r) ri.dispose();
      if (ii !== img) ii.dispose();
      yield { labels: b.labels, size: img.shape[0], elements: img.size, squaredError, real, rec };
    } finally {
      r.dispose(); // img belongs to batches() (disposed when the next batch is asked for)
    }
  }
}
type ClassifierOut = Awaited<ReturnType<DigitClassifier['extract']>>;

/**
 * Measure a digit model (see the module docs). `ds` is the dataset the model was trained on
 * (its held-out split is used). Frees every tensor it allocates.
 * @throws ValueError when the dataset has no labels or the model is not class-conditional.
 */
export async function evaluateDigitModel(vae: VQVAE, model: VAR, ds: LoadedDataset, opts: DigitQualityOptions = {}): Promise<DigitQuality> {
  const numClasses = model.config.numClasses;
  if (ds.numClasses !== 10 || numClasses !== 10)
    throw new ValueError(
      `evaluateDigitModel: needs a 10-class digit dataset and model; got ${ds.numClasses} dataset classes, ${numClasses} model classes`,
    );
  const n = Math.min(opts.heldOut ?? ds.heldOut.length, ds.heldOut.length);
  if (!(n >= 2)) throw new ValueError(`evaluateDigitModel: heldOut must be ≥ 2 (FID needs a covariance); got ${opts.heldOut}`);
  const perClass = opts.perClass ?? 100;
  const cfg = opts.cfg ?? 2;
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 0;
  const moreSmooth = opts.moreSmooth ?? false;
  const seed = opts.seed ?? 0;
  const bs = opts.batchSize ?? 50;
  const classifier = opts.classifier ?? (await DigitClassifier.load(undefined, { fit: digitFitFor(ds.spec) }));
  const D = classifier.featureDim;
  const K = classifier.numClasses;
  try {
    // ---- reconstructions of held-out digits
    const t0 = performance.now();
    const sample = n >= ds.heldOut.length ? ds.heldOut : subset(ds.heldOut, spreadIndices(ds.heldOut.length, n));
    const real = new FeatureStats(D);
    const rec = new FeatureStats(D);
    const realByClass = new ClassFeatures(numClasses, D);
    let realOk = 0;
    let recOk = 0;
    let se = 0;
    let count = 0;
    let seen = 0;
    for await (const b of reconstructedBatches(vae, classifier, sample, ds, bs, opts.signal)) {
      se += b.squaredError;
      count += b.elements;
      const m = b.size;
      real.add(b.real.features, m, D);
      rec.add(b.rec.features, m, D);
      realByClass.add(b.real.features, b.labels);
      const pa = argmaxRows(b.real.logits!, m, K);
      const pc = argmaxRows(b.rec.logits!, m, K);
      for (let i = 0; i < m; i++) {
        if (pa[i] === b.labels[i]) realOk++;
        if (pc[i] === b.labels[i]) recOk++;
      }
      seen += m;
      opts.onProgress?.({ stage: 'reconstruct', done: seen, total: n });
    }
    const recMse = se / Math.max(1, count);
    const tRec = (performance.now() - t0) / 1000;

    // ---- generated digits
    const t1 = performance.now();
    const total = perClass * numClasses;
    const result: DigitQuality = {
      heldOutImages: seen,
      realAccuracy: realOk / seen,
      recAccuracy: recOk / seen,
      recPsnr: psnrFromMse(recMse),
      recFid: fidFromStats(real, rec).fid,
      generated: total,
      sampling: { cfg, topK, topP, moreSmooth, seed, ...(opts.cfgSchedule ? { cfgSchedule: opts.cfgSchedule } : {}) },
      seconds: { reconstruct: tRec, generate: 0 },
    };
    if (total > 0) {
      const labels = Int32Array.from({ length: total }, (_, i) => i % numClasses);
      const gen = new FeatureStats(D);
      const genByClass = new ClassFeatures(numClasses, D);
      const okPerClass = new Array<number>(numClasses).fill(0);
      const rng = new Rng(seed);
      for (let s = 0; s < total; s += bs) {
        const lab = labels.subarray(s, Math.min(total, s + bs));
        const res = await generate(vae, model, {
          labels: lab,
          cfg,
          cfgSchedule: opts.cfgSchedule,
          topK,
          topP,
          moreSmooth,
          rng,
          signal: opts.signal,
        });
        res.fHat.dispose();
        const x = toClassifierInput(res.images!);
        res.images!.dispose();
        try {
          const o = await classifier.extract(x);
          gen.add(o.features, lab.length, D);
          genByClass.add(o.features, lab);
          const p = argmaxRows(o.logits!, lab.length, K);
          for (let i = 0; i < lab.length; i++) if (p[i] === lab[i]) okPerClass[lab[i]]++;
        } finally {
          x.dispose();
        }
        opts.onProgress?.({ stage: 'generate', done: s + lab.length, total });
      }
      result.genAccuracy = okPerClass.reduce((a, v) => a + v, 0) / total;
      result.genAccuracyPerClass = okPerClass.map((v) => v / perClass);
      result.genFid = fidFromStats(real, gen).fid;
      result.fidRatio = result.genFid / result.recFid;
      result.diversityPerClass = Array.from({ length: numClasses }, (_, c) => {
        const r = realByClass.meanDistance(c);
        return r > 0 ? genByClass.meanDistance(c) / r : 0;
      });
      result.diversityRatio = result.diversityPerClass.reduce((a, v) => a + v, 0) / numClasses;
    }
    result.seconds.generate = (performance.now() - t1) / 1000;
    if (opts.referenceFids) {
      const m = Math.min(Math.max(2, total), ds.train.length);
      const train = subset(ds.train, spreadIndices(ds.train.length, m));
      const tr = new FeatureStats(D);
      const trRec = new FeatureStats(D);
      let done = 0;
      for await (const b of reconstructedBatches(vae, classifier, train, ds, bs, opts.signal)) {
        tr.add(b.real.features, b.size, D);
        trRec.add(b.rec.features, b.size, D);
        done += b.size;
        opts.onProgress?.({ stage: 'reference', done, total: m });
      }
      result.trainRealFid = fidFromStats(real, tr).fid;
      result.trainRecFid = fidFromStats(real, trRec).fid;
    }
    return result;
  } finally {
    if (!opts.classifier) classifier.dispose();
  }
}
