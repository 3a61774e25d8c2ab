/**
 * Feature extractors: anything that maps images to feature vectors (and optionally
 * class logits) can feed the metrics.
 */
import type { Tensor4D } from '@tensorflow/tfjs-core';
import { FeatureStats } from './stats.js';
import { ShapeError, throwIfAborted } from './errors.js';

export interface ExtractorOutput {
  /** Row-major (B × featureDim) features. */
  features: Float32Array;
  /** Row-major (B × numClasses) logits, when the extractor has a classifier head. */
  logits?: Float32Array;
}

/**
 * Maps a batch of images (B, C, H, W) in [-1, 1] (C = 3, or 1 for grey digits; NCHW like
 * the rest of var.ts) to features. The input tensor is not disposed by the extractor;
 * every tensor the extractor creates is.
 */
export interface FeatureExtractor {
  /** Feature dimension D. */
  readonly featureDim: number;
  /** Number of logits K (0 when the extractor has no classifier head). */
  readonly numClasses: number;
  extract(images: Tensor4D): Promise<ExtractorOutput>;
}

export interface ComputeStatsOptions {
  /** Also collect the logits (needed for the Inception Score). Default false. */
  collectLogits?: boolean;
  /** Keep the features themselves (needed for precision/recall, KID). Default false. */
  collectFeatures?: boolean;
  /** Dispose each batch tensor after use (default false: the caller owns them). */
  disposeBatches?: boolean;
  /** Called after every batch with the number of images processed so far. */
  onProgress?: (count: number) => void;
  signal?: AbortSignal;
}

export interface ComputedStats {
  stats: FeatureStats;
  count: number;
  /** (count × numClasses) logits when `collectLogits`. */
  logits?: Float32Array;
  /** (count × featureDim) features when `collectFeatures`. */
  features?: Float32Array;
}

function concat(parts: Float32Array[], total: number): Float32Array {
  const out = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Run `extractor` over image batches ((B, C, H, W) tensors in [-1, 1], from an array,
 * iterable or async iterable) and accumulate feature statistics batch by batch, so that
 * only one batch of features is in memory at a time (unless features are collected).
 */
export async function computeStatsFromImages(
  extractor: FeatureExtractor,
  imageBatches: Iterable<Tensor4D> | AsyncIterable<Tensor4D>,
  opts: ComputeStatsOptions = {},
): Promise<ComputedStats> {
  const stats = new FeatureStats(extractor.featureDim);
  const logits: Float32Array[] = [];
  const feats: Float32Array[] = [];
  let count = 0;
  if (opts.collectLogits && extractor.numClasses < 1) {
    throw new ShapeError('computeStatsFromImages: collectLogits needs an extractor with a classifier head (numClasses > 0)');
  }
  for await (const batch of imageBatches as AsyncIterable<Tensor4D>) {
    throwIfAborted(opts.signal);
    const b = batch.shape[0];
    const out = await extractor.extract(batch);
    if (opts.disposeBatches) batch.dispose();
    if (out.features.length !== b * extractor.featureDim) {
      throw new ShapeError(
        `computeStatsFromImages: extractor returned ${out.features.length} feature values for ${b} images (featureDim ${extractor.featureDim})`,
      );
    }
    stats.add(out.features, b, extractor.featureDim);
    if (opts.collectLogits) {
      if (!out.logits) throw new ShapeError('computeStatsFromImages: the extractor returned no logits');
      logits.push(out.logits);
    }
    if (opts.collectFeatures) feats.push(out.features);
    count += b;
    opts.onProgress?.(count);
  }
  return {
    stats,
    count,
    logits: opts.collectLogits ? concat(logits, count * extractor.numClasses) : undefined,
    features: opts.collectFeatures ? concat(feats, count * extractor.featureDim) : undefined,
  };
}
