/**
 * The parts of the tokenizer (`VQVAE` from @var/tokenizer) and the transformer (`VAR` from
 * @var/transformer) the sampler uses, as structural types, so the sampler works with any
 * object of that shape (and its own types stay small).
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { RandomSource } from './filter.js';

/** What the sampler needs of a multi-scale quantiser (`VQVAE.quantizer`). */
export interface SamplerQuantizer {
  vocabSize: number;
  Cvae: number;
  vPatchNums: readonly number[];
  /** The codebook (V, Cvae), used by the "more smooth" preview (else `quantize.embedding.weight`). */
  codebook?: tf.Tensor;
  /** Codebook lookup: (B, pn·pn) int32 → (B, Cvae, pn, pn). */
  embed(idx: tf.Tensor2D, pn: number): tf.Tensor4D;
  /** f_hat += phi(upsample(h)); next = area-downsample(f_hat) to the next scale (null after the last). */
  nextAutoregressiveInput(si: number, fHat: tf.Tensor4D | null, hBChw: tf.Tensor4D): { fHat: tf.Tensor4D; next: tf.Tensor4D | null };
}

/** What the sampler needs of a VQVAE. */
export interface SamplerVQVAE {
  quantizer: SamplerQuantizer;
  /** Spatial downsampling factor of the encoder (image side / latent side). */
  downsample: number;
  /** Image channels the encoder takes (1 = gray, 3 = RGB; default 3 where absent). */
  config?: { inChannels?: number };
  /** decoder(post_quant_conv(f_hat)).clamp(-1, 1): (B, Cvae, h, w) → (B, 3, H, W). */
  fhatToImg(fHat: tf.Tensor4D): tf.Tensor4D;
  /** Tokens of every scale of an image in [-1, 1]: per scale (B, pn·pn) int32. */
  imgToIdx(img: tf.Tensor4D): tf.Tensor2D[];
  /** Parameters by official state-dict name; the codebook is `quantize.embedding.weight` (V, Cvae). */
  trainableVariables?(): Map<string, tf.Variable>;
}

/** A KV-cached inference session of the transformer, one scale at a time. */
export interface SamplerSession {
  /** Logits (B', pn·pn, V) of scale `si`; `x` is the (B', pn·pn, Cvae) next-scale input, null at si = 0. */
  step(si: number, x: tf.Tensor3D | null): tf.Tensor3D;
  dispose(): void;
}

/** What the sampler needs of a VAR transformer. */
export interface SamplerVAR {
  config: { numClasses: number; patchNums: readonly number[]; vocabSize: number; Cvae: number };
  /** Start a KV-cached session for these labels (class `numClasses` = unconditional). */
  startInference(labels: Int32Array): SamplerSession;
  /** Teacher-forced logits of scales 0..progSi (B, end of scale progSi, V); used with `kvCache: false`. */
  forward?(labels: Int32Array, xBLCv: tf.Tensor3D, opts?: { progSi?: number }): tf.Tensor3D;
}

export type { RandomSource };
