/**
 * Token maps → the embeddings that update f_hat: codebook lookup, and the official "more
 * smooth" Gumbel-softmax mixture of codebook vectors.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ValueError } from '@var/core';
import { gumbelSoftmax, smoothTemperature, type RandomSource } from './filter.js';
import type { SamplerVQVAE } from './types.js';

/**
 * Codebook lookup (B, pn·pn) → (B, Cvae, pn, pn). Uses the codebook directly when the quantiser
 * exposes it (tokens here are in range by construction, so no validation read-back is needed;
 * that keeps the loop free of synchronous GPU reads, which stall WebGPU).
 */
export function embedTokens(q: SamplerVQVAE['quantizer'], tokens: Int32Array, B: number, pn: number): tf.Tensor4D {
  const idx = tf.tensor2d(tokens, [B, pn * pn], 'int32');
  if (!q.codebook) return q.embed(idx, pn);
  const rows = tf.gather(q.codebook, tf.reshape(idx, [-1])); // (B·pn·pn, Cvae)
  return tf.transpose(tf.reshape(rows, [B, pn, pn, q.Cvae]), [0, 3, 1, 2]) as tf.Tensor4D;
}

/** The codebook (V, Cvae) of a VQVAE. */
export function codebookOf(vae: SamplerVQVAE): tf.Tensor2D {
  const cb = vae.quantizer.codebook ?? vae.trainableVariables?.().get('quantize.embedding.weight');
  if (!cb) throw new ValueError('moreSmooth needs the VQVAE codebook (quantize.embedding.weight)');
  return cb as unknown as tf.Tensor2D;
}

/**
 * The official `more_smooth` draw: Gumbel-softmax weights (temperature falling over the
 * scales) of the filtered logits scaled by (1 + ratio); draws from `rng`.
 */
export function smoothWeights(filtered: Float64Array, V: number, ratio: number, rng: RandomSource): Float32Array {
  const scaled = new Float64Array(filtered.length);
  for (let i = 0; i < scaled.length; i++) scaled[i] = filtered[i] * (1 + ratio);
  return Float32Array.from(gumbelSoftmax(scaled, V, smoothTemperature(ratio), rng));
}

/** The mixture of codebook vectors, (B, Cvae, pn, pn), for {@link smoothWeights}. */
export function smoothEmbedding(weights: Float32Array, codebook: tf.Tensor2D, B: number, pn: number): tf.Tensor4D {
  const l = pn * pn;
  const [V, Cvae] = codebook.shape;
  return tf.tidy(() => {
    const mix = tf.matMul(tf.tensor2d(weights, [B * l, V]), codebook); // (B·l, Cvae)
    return tf.reshape(tf.transpose(tf.reshape(mix, [B, l, Cvae]), [0, 2, 1]), [B, Cvae, pn, pn]) as tf.Tensor4D;
  });
}
