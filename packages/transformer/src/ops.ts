/**
 * Small differentiable building blocks of the transformer, in plain tfjs ops. Backend speed
 * (e.g. wasm's transposed and batched products on XNNPACK) is @var/core's concern: the kernels
 * `initBackend` registers.
 */
import * as tf from '@tensorflow/tfjs-core';

/** y = x Wᵀ + b for x of any rank (last axis = in), `wT` already transposed to (in, out). */
export function linear(x: tf.Tensor, wT: tf.Tensor2D, bias?: tf.Tensor): tf.Tensor {
  const inF = wT.shape[0];
  const outF = wT.shape[1];
  const lead = x.shape.slice(0, -1);
  let y: tf.Tensor = tf.matMul(tf.reshape(x, [-1, inF]) as tf.Tensor2D, wT);
  if (bias) y = tf.add(y, bias);
  return tf.reshape(y, [...lead, outF]);
}

/** LayerNorm over the last axis without affine parameters (PyTorch: biased variance, eps inside the sqrt). */
export function layerNorm(x: tf.Tensor, eps: number): tf.Tensor {
  const axis = x.rank - 1;
  const mean = tf.mean(x, axis, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), axis, true);
  return tf.div(xc, tf.sqrt(tf.add(variance, eps)));
}

const GELU_C = Math.sqrt(2 / Math.PI);

/**
 * GELU with the tanh approximation (`nn.GELU(approximate='tanh')`). x³ is computed as x·x·x:
 * wasm's Pow kernel (and its gradient, which takes a log) cost ≈8% of a small VAR's training
 * step (experiments/bench-var.mjs --profile).
 */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  // 0.5·(1 + tanh(u)) = σ(2u): the same function, and tfjs-wasm's Sigmoid is ~15× faster than its Tanh
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), 2 * GELU_C);
  return tf.mul(x, tf.sigmoid(inner));
}

/** SiLU: x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/** `F.normalize(x, dim=-1)`: x / max(‖x‖₂, 1e-12). */
export function l2Normalize(x: tf.Tensor): tf.Tensor {
  const norm = tf.sqrt(tf.sum(tf.square(x), -1, true));
  return tf.div(x, tf.maximum(norm, 1e-12));
}
