/**
 * The official VAR training / validation losses (trainer.py):
 * train: CrossEntropy(label_smoothing, reduction='none') per token, × loss weight 1/L, summed over L, mean over B;
 * val:   CrossEntropy(label_smoothing=0, reduction='mean') over all B·L tokens.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, ValueError } from '@var/core';

/** Validate target token ids (B, L) against logits (B, L, V); returns them as an int32 tensor. */
function targetsTensor(logits: tf.Tensor3D, targets: tf.Tensor2D | Int32Array | number[]): tf.Tensor2D {
  const [B, L, V] = logits.shape;
  const data = targets instanceof tf.Tensor ? targets.dataSync() : targets;
  if (targets instanceof tf.Tensor && (targets.rank !== 2 || targets.shape[0] !== B || targets.shape[1] !== L)) {
    throw new ShapeError(`targets: expected shape (B=${B}, L=${L}) matching the logits, got [${targets.shape}]`);
  }
  if (data.length !== B * L) throw new ShapeError(`targets: expected B·L = ${B * L} token ids, got ${data.length}`);
  const out = new Int32Array(B * L);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isInteger(v) || v < 0 || v >= V) throw new ValueError(`targets[${i}] = ${v}: expected an integer token id in 0..${V - 1}`);
    out[i] = v;
  }
  return tf.tensor2d(out, [B, L], 'int32');
}

/**
 * Per-token cross-entropy (B, L) with PyTorch's label smoothing:
 * (1−ε)·(−log p_y) + ε·mean_v(−log p_v).
 */
export function crossEntropyPerToken(logits: tf.Tensor3D, targets: tf.Tensor2D | Int32Array | number[], labelSmoothing = 0): tf.Tensor2D {
  if (!(labelSmoothing >= 0 && labelSmoothing <= 1)) throw new ValueError(`labelSmoothing must be in [0, 1], got ${labelSmoothing}`);
  return tf.tidy(() => {
    const V = logits.shape[2];
    const t = targetsTensor(logits, targets);
    const logp = tf.logSoftmax(logits);
    const nll = tf.neg(tf.sum(tf.mul(logp, tf.cast(tf.oneHot(t, V), 'float32')), -1));
    if (labelSmoothing === 0) return nll as tf.Tensor2D;
    const smooth = tf.neg(tf.mean(logp, -1));
    return tf.add(tf.mul(nll, 1 - labelSmoothing), tf.mul(smooth, labelSmoothing)) as tf.Tensor2D;
  });
}

/**
 * Loss weights (1, L) of trainer.py: 1/L everywhere; in progressive training (progSi ≥ 0) only the
 * first `end(progSi)` tokens, with the newest scale's weights multiplied by `progWp` ∈ [0, 1].
 */
export function lossWeights(beginEnds: [number, number][], progSi = -1, progWp = 1): Float32Array {
  const L = beginEnds[beginEnds.length - 1][1];
  if (progSi < 0 || progSi === beginEnds.length - 1) return new Float32Array(L).fill(1 / L);
  const [bg, ed] = beginEnds[progSi];
  const w = new Float32Array(ed).fill(1 / L);
  const f = Math.min(Math.max(progWp, 0), 1);
  for (let i = bg; i < ed; i++) w[i] *= f;
  return w;
}

/** Σ_L(perToken · w) averaged over B: the official training loss (a scalar). */
export function weightedLoss(perToken: tf.Tensor2D, weights: Float32Array): tf.Scalar {
  if (perToken.shape[1] !== weights.length) throw new ShapeError(`weightedLoss: ${perToken.shape[1]} tokens but ${weights.length} weights`);
  return tf.tidy(() => tf.mean(tf.sum(tf.mul(perToken, tf.tensor2d(weights, [1, weights.length])), 1)) as tf.Scalar);
}

/** The official training loss: label-smoothed CE (default 0.1) weighted by 1/L, summed over L, mean over B. */
export function trainLoss(
  logits: tf.Tensor3D,
  targets: tf.Tensor2D | Int32Array | number[],
  opts: { labelSmoothing?: number; weights?: Float32Array } = {},
): tf.Scalar {
  return tf.tidy(() => {
    const per = crossEntropyPerToken(logits, targets, opts.labelSmoothing ?? 0.1);
    const w = opts.weights ?? new Float32Array(logits.shape[1]).fill(1 / logits.shape[1]);
    return weightedLoss(per, w);
  });
}

/** The official validation loss: plain CE averaged over every token. */
export function valLoss(logits: tf.Tensor3D, targets: tf.Tensor2D | Int32Array | number[]): tf.Scalar {
  return tf.tidy(() => tf.mean(crossEntropyPerToken(logits, targets, 0)) as tf.Scalar);
}
