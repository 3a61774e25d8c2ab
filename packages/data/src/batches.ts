/**
 * Bounded-memory batching: an async iterator that decodes only the images of the batch
 * it is about to yield and disposes each batch's tensor when the next is asked for.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted, ValueError, type ResizeMode } from '@var/core';
import type { Background } from './codec.js';
import { assertIndex, shuffledIndices, type ImageDataset } from './dataset.js';
import { rngFor } from './random.js';
import { imagesToTensorFlipped, type Size } from './tensor.js';

export interface BatchOptions {
  /** Images per batch. */
  batchSize: number;
  /** Channels of `images`: 1 (gray) or 3 (RGB). */
  channels: 1 | 3;
  /** Resize/crop every image to this size (see `imageToTensor`). Needed when sizes differ. */
  size?: Size;
  /** Resize mode (default: area when shrinking, bilinear otherwise). */
  mode?: ResizeMode;
  /** Background for alpha (default white); `null` drops alpha. */
  background?: Background | null;
  /** Shuffle every epoch (default true). Epoch e uses the permutation `shuffledIndices(n, seed, e)`. */
  shuffle?: boolean;
  /** Seed of shuffles and flips (default 0). */
  seed?: number;
  /** Leave out the last batch of an epoch when it is smaller than `batchSize` (default false). */
  dropLast?: boolean;
  /** Alias of `dropLast` (PyTorch's spelling). */
  drop_last?: boolean;
  /** Number of epochs (default 1). */
  epochs?: number;
  /** Resume: first epoch to yield (default 0); the orders are the same as in an uninterrupted run. */
  startEpoch?: number;
  /** Resume: batches of `startEpoch` to skip (default 0); they are not decoded. */
  startStep?: number;
  /** Flip each image left–right with this probability (default 0), seeded by (seed, epoch). */
  hflip?: number;
  /**
   * Dispose each batch's `images` when the iterator is advanced or closed (default true),
   * so at most one batch tensor is alive. Set false to own and dispose them yourself.
   */
  autoDispose?: boolean;
  /** Stop with AbortError between batches. */
  signal?: AbortSignal;
}

export interface Batch {
  /** (B, C, H, W) float32 in [-1, 1]. Disposed on the next step unless `autoDispose: false`. */
  images: tf.Tensor4D;
  /** Label of each image (0 for an unconditional dataset). */
  labels: Int32Array;
  /** Index of each image in the dataset. */
  indices: Int32Array;
  /** Epoch of this batch (0-based). */
  epoch: number;
  /** Batch index within its epoch (0-based). */
  step: number;
}

/** Batches per epoch for `n` images. */
export function batchesPerEpoch(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

function nonNegInt(v: unknown, name: string): number {
  if (!Number.isInteger(v) || (v as number) < 0)
    throw new ValueError(`batches: ${name} must be a non-negative integer; got ${JSON.stringify(v)}`);
  return v as number;
}

/**
 * Iterate over `ds` in batches for `epochs` epochs. Images are decoded batch by batch
 * (never the whole dataset), converted with `imagesToTensor`, optionally flipped, and
 * yielded; with `autoDispose` (default) the previous batch's tensor is disposed when the
 * next is requested and the last one when the loop ends or breaks, so `tf.memory()` stays
 * bounded by one batch. Deterministic for a given dataset, seed and options.
 *
 * @throws ValueError for bad options or an empty dataset; AbortError when `signal` aborts.
 */
export async function* batches(ds: ImageDataset, options: BatchOptions): AsyncGenerator<Batch, void, undefined> {
  const batchSize = options?.batchSize;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new ValueError(`batches: batchSize must be a positive integer; got ${JSON.stringify(batchSize)}`);
  }
  const n = ds.length;
  if (n === 0) throw new ValueError(`batches: dataset ${ds.name} is empty`);
  const epochs = nonNegInt(options.epochs ?? 1, 'epochs');
  const startEpoch = nonNegInt(options.startEpoch ?? 0, 'startEpoch');
  const startStep = nonNegInt(options.startStep ?? 0, 'startStep');
  const seed = options.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new ValueError(`batches: seed must be a safe integer; got ${seed}`);
  const shuffle = options.shuffle ?? true;
  const dropLast = options.dropLast ?? options.drop_last ?? false;
  const hflip = options.hflip ?? 0;
  if (!(hflip >= 0 && hflip <= 1)) throw new ValueError(`batches: hflip must be a probability in [0, 1]; got ${hflip}`);
  const autoDispose = options.autoDispose ?? true;
  const perEpoch = batchesPerEpoch(n, batchSize, dropLast);
  if (perEpoch === 0) {
    throw new ValueError(`batches: dataset ${ds.name} has ${n} images, fewer than batchSize ${batchSize} with dropLast: no batch`);
  }

  let live: tf.Tensor4D | undefined;
  try {
    for (let epoch = startEpoch; epoch < epochs; epoch++) {
      const order = shuffle ? shuffledIndices(n, seed, epoch) : Int32Array.from({ length: n }, (_, i) => i);
      const flipRng = rngFor(seed, 'flip', epoch);
      for (let step = 0; step < perEpoch; step++) {
        const indices = order.subarray(step * batchSize, Math.min(n, (step + 1) * batchSize));
        if (hflip > 0) {
          // Draw the flips of skipped batches too, so resuming reproduces the same flips.
          if (epoch === startEpoch && step < startStep) {
            for (let k = 0; k < indices.length; k++) flipRng.random();
            continue;
          }
        } else if (epoch === startEpoch && step < startStep) continue;
        if (autoDispose) {
          live?.dispose();
          live = undefined;
        }
        throwIfAborted(options.signal);
        for (const i of indices) assertIndex(ds, i);
        const imgs = await Promise.all(Array.from(indices, (i) => ds.get(i)));
        throwIfAborted(options.signal);
        // One draw per image in batch order, as randomHorizontalFlip would; applied in JS.
        const flips = hflip > 0 ? Array.from(indices, () => flipRng.random() < hflip) : undefined;
        const images = imagesToTensorFlipped(
          imgs,
          { channels: options.channels, size: options.size, mode: options.mode, background: options.background },
          flips,
        );
        const labels = Int32Array.from(indices, (i) => ds.labels[i]);
        if (autoDispose) live = images;
        yield { images, labels, indices: Int32Array.from(indices), epoch, step };
      }
    }
  } finally {
    if (autoDispose) live?.dispose();
  }
}
