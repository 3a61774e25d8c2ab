/**
 * Evaluation during training, with @var/metrics: reconstruction quality of a tokenizer on
 * held-out images, and for VAR the digit classifier's accuracy on generated samples.
 */
import * as tf from '@tensorflow/tfjs-core';
import { batches, subset } from '@var/data';
import { DigitClassifier, type DigitFit } from '@var/metrics';
import type { VQVAE } from '@var/tokenizer';
import type { LoadedDataset } from './dataset.js';

/** What evaluation needs of a classifier (e.g. @var/metrics' DigitClassifier). */
export interface DigitClassifierLike {
  predict(images: tf.Tensor4D): Promise<Int32Array>;
  dispose(): void;
}

/**
 * The digit classifier shipped with @var/metrics, fitted to the dataset's images: MNIST
 * padded 28 → size (size ≥ 28, see {@link loadDataset}) is centre-cropped back to 28 × 28
 * (lossless); smaller sizes are resized.
 */
export async function loadDigitClassifier(spec?: { name: string; size: number }): Promise<DigitClassifierLike> {
  return DigitClassifier.load(undefined, { fit: digitFitFor(spec) });
}

/** How the digit classifier sees a dataset's images: MNIST padded 28 → size (size ≥ 28) is centre-cropped, anything else resized. */
export function digitFitFor(spec?: { name: string; size: number }): DigitFit {
  return spec?.name === 'mnist' && spec.size >= 28 ? 'center-crop' : 'resize';
}

/** PSNR in dB of images in [-1, 1] given their mean squared error (peak-to-peak range 2). */
export function psnrFromMse(mse: number): number {
  return 10 * Math.log10(4 / Math.max(mse, 1e-12));
}

/** `n` indices spread evenly over `0..length-1` (held-out splits are in dataset order, e.g. sorted by class). */
export function spreadIndices(length: number, n: number): number[] {
  const k = Math.max(0, Math.min(length, Math.floor(n)));
  return Array.from({ length: k }, (_, i) => Math.floor((i * length) / k));
}

/**
 * Reconstruct `n` held-out images (spread evenly over the split) through all scales and measure: `recMse`
 * (mean squared error in [-1, 1]), `psnr` (dB), `codebookUsage` (fraction of the codebook
 * used by the token maps of every scale), and with a classifier and labels `recAccuracy`
 * (classifier accuracy on the reconstructions) and `realAccuracy` (on the originals).
 */
export async function evalImages(
  vae: VQVAE,
  ds: LoadedDataset,
  n: number,
  classifier?: DigitClassifierLike,
): Promise<Record<string, number>> {
  let se = 0;
  let count = 0;
  let correct = 0;
  let correctReal = 0;
  const used = new Uint8Array(vae.config.vocabSize);
  let seen = 0;
  const sample = n >= ds.heldOut.length ? ds.heldOut : subset(ds.heldOut, spreadIndices(ds.heldOut.length, n));
  for await (const b of batches(sample, { batchSize: 100, ...ds.imageOptions, shuffle: false })) {
    const take = Math.min(b.images.shape[0], n - seen);
    if (take <= 0) break;
    const img = take === b.images.shape[0] ? b.images : (tf.slice(b.images, [0, 0, 0, 0], [take, -1, -1, -1]) as tf.Tensor4D);
    const idx = vae.imgToIdx(img);
    const rec = vae.idxToImg(idx);
    for (const t of idx) {
      const d = t.dataSync();
      for (let i = 0; i < d.length; i++) used[d[i]] = 1;
    }
    tf.dispose(idx);
    se += tf.tidy(() => tf.sum(tf.squaredDifference(rec, img)).dataSync()[0]);
    count += img.size;
    if (classifier && ds.numClasses > 0) {
      const p = await classifier.predict(rec);
      const q = await classifier.predict(img);
      for (let i = 0; i < take; i++) {
        if (p[i] === b.labels[i]) correct++;
        if (q[i] === b.labels[i]) correctReal++;
      }
    }
    rec.dispose();
    if (img !== b.images) img.dispose();
    seen += take;
    if (seen >= n) break;
  }
  const recMse = se / Math.max(1, count);
  const out: Record<string, number> = {
    images: seen,
    recMse,
    psnr: psnrFromMse(recMse),
    codebookUsage: used.reduce((a, v) => a + v, 0) / used.length,
  };
  if (classifier && ds.numClasses > 0) {
    out.recAccuracy = correct / seen;
    out.realAccuracy = correctReal / seen;
  }
  return out;
}
