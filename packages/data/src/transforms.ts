/**
 * Tensor transforms on NCHW batches: resize, crops and seeded flips. Each returns a new
 * tensor and leaves no other tensor alive; the input is not disposed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { interpolate, ShapeError, ValueError, type RandomSource as CoreRandomSource, type ResizeMode } from '@var/core';
import { assertRank4, centerCrop, defaultResizeMode, type Size } from './tensor.js';

export { centerCrop };

/** The part of @var/core's `RandomSource` (an `Rng`, or anything with these two methods) the transforms draw from. */
export type RandomSource = Pick<CoreRandomSource, 'random' | 'int'>;

function pair(size: Size, where: string): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new ShapeError(`${where}: size must be a positive integer or [height, width]; got ${JSON.stringify(size)}`);
  }
  return [h, w];
}

/**
 * Resize (B, C, H, W) to `size` with `interpolate` from @var/core (PyTorch semantics).
 * Default mode: `'area'` when shrinking both sides, else `'bilinear'`. With `clamp`
 * (default true) the result is clipped to [-1, 1] (bicubic can overshoot).
 */
export function resize(x: tf.Tensor4D, size: Size, options: { mode?: ResizeMode; clamp?: boolean } = {}): tf.Tensor4D {
  assertRank4(x, 'resize');
  const [h, w] = pair(size, 'resize');
  const [, , H, W] = x.shape;
  const mode = options.mode ?? defaultResizeMode(H, W, h, w);
  return tf.tidy(() => {
    const y = interpolate(x.dtype === 'float32' ? x : tf.cast(x, 'float32'), [h, w], mode);
    return options.clamp === false ? y : tf.clipByValue(y, -1, 1);
  });
}

/** Mirror (B, C, H, W) left–right. */
export function horizontalFlip(x: tf.Tensor4D): tf.Tensor4D {
  assertRank4(x, 'horizontalFlip');
  return tf.reverse(x, 3);
}

/**
 * Flip each image of (B, C, H, W) left–right with probability `p` (default 0.5), one
 * draw of `rng` per image, in batch order. Returns the result and which images flipped.
 */
export function randomHorizontalFlip(x: tf.Tensor4D, rng: RandomSource, p = 0.5): { images: tf.Tensor4D; flipped: boolean[] } {
  assertRank4(x, 'randomHorizontalFlip');
  if (!(p >= 0 && p <= 1)) throw new ValueError(`randomHorizontalFlip: p must be in [0, 1]; got ${p}`);
  const B = x.shape[0];
  const flipped = Array.from({ length: B }, () => rng.random() < p);
  const images = tf.tidy(() => {
    if (!flipped.some(Boolean)) return tf.clone(x);
    if (flipped.every(Boolean)) return tf.reverse(x, 3);
    const m = tf.tensor4d(
      Float32Array.from(flipped, (f) => (f ? 1 : 0)),
      [B, 1, 1, 1],
    );
    // x·(1−m) + flip(x)·m is exact for m ∈ {0, 1}.
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(tf.reverse(x, 3), m)) as tf.Tensor4D;
  });
  return { images, flipped };
}

/**
 * Crop each image of (B, C, H, W) to `size` at a random position (uniform over all
 * valid offsets, top then left drawn from `rng` per image, in batch order).
 * @throws ShapeError when the crop is larger than the images.
 */
export function randomCrop(x: tf.Tensor4D, size: Size, rng: RandomSource): tf.Tensor4D {
  assertRank4(x, 'randomCrop');
  const [h, w] = pair(size, 'randomCrop');
  const [B, C, H, W] = x.shape;
  if (h > H || w > W) throw new ShapeError(`randomCrop: crop ${h}x${w} is larger than the input ${H}x${W}`);
  const offsets = Array.from({ length: B }, () => [rng.int(H - h + 1), rng.int(W - w + 1)] as const);
  return tf.tidy(() =>
    tf.concat(
      offsets.map(([t, l], b) => tf.slice(x, [b, 0, t, l], [1, C, h, w])),
      0,
    ),
  );
}

/**
 * Pad (B, C, H, W) by `padding` pixels on every side (or `[top, bottom, left, right]`)
 * with `value` (default −1, black in [-1, 1]).
 */
export function pad(x: tf.Tensor4D, padding: number | readonly [number, number, number, number], value = -1): tf.Tensor4D {
  assertRank4(x, 'pad');
  const [t, b, l, r] = typeof padding === 'number' ? [padding, padding, padding, padding] : padding;
  if (![t, b, l, r].every((v) => Number.isInteger(v) && v >= 0)) {
    throw new ValueError(`pad: padding must be non-negative integers; got ${JSON.stringify(padding)}`);
  }
  return tf.pad(
    x,
    [
      [0, 0],
      [0, 0],
      [t, b],
      [l, r],
    ],
    value,
  );
}
