/**
 * Next-scale prediction, the loop of the official `VAR.autoregressive_infer_cfg`
 * (FoundationVision/VAR, models/var.py). Per scale si (pn × pn tokens):
 *  1. the transformer's session gives logits for the labels and, with guidance, the
 *     unconditional class;
 *  2. classifier-free guidance: `t = cfg · si/(S−1)`, `logits = (1+t)·cond − t·uncond`;
 *  3. top-k then top-p filtering, one token per position drawn on the CPU in float64 from the
 *     seeded RNG (identical on every backend);
 *  4. `f_hat += phi(upsample(embed(tokens)))` (or, with `moreSmooth`, of the Gumbel-softmax
 *     mixture of codebook vectors), and the area-downsampled f_hat is the next input.
 * One {@link ScaleHook} per concern changes or watches a scale: editing forces tokens,
 * previews decode f_hat; the events are what streaming yields.
 */
import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '@var/core';
import { assertBatchFits, enterWeightPacking, type GenerationPlan } from './memory.js';
import { sampleTokens } from './filter.js';
import { codebookOf, embedTokens, smoothEmbedding, smoothWeights } from './embed.js';
import type { Resolved } from './options.js';
import { nextInput, openSession, scaleLogits, yieldToEventLoop } from './session.js';
import { PhaseClock } from './timing.js';
import type { SamplerVAR, SamplerVQVAE } from './types.js';

/** One scale's output, streamed as soon as it is ready. */
export interface ScaleEvent {
  /** Scale index (0-based) and its side length. */
  si: number;
  pn: number;
  /** Number of scales. */
  scales: number;
  /** Tokens of this scale, (B, pn·pn) row-major (for edits: after forcing the input's tokens). */
  tokens: Int32Array;
  /** Edits only: the tokens the model sampled before forcing. */
  sampled?: Int32Array;
  /** Edits only: 1 where the input's token was forced, (B, pn·pn). */
  keep?: Uint8Array;
  /** With `returnLogits`: logits after CFG, (B, pn·pn, V). */
  logits?: Float32Array;
  /**
   * With `previews`: the image decoded from the current f_hat, (B, 3, H, W) in [0, 1]. Owned by
   * the generator: valid until the callback returns / the iterator is advanced (clone to keep).
   */
  preview?: tf.Tensor4D;
}

/** The result of a generation. The caller disposes `images` and `fHat`. */
export interface GenerateResult {
  /** (B, 3, H, W) in [0, 1]; null with `decode: false`. */
  images: tf.Tensor4D | null;
  /** Final f_hat, (B, Cvae, h, w). */
  fHat: tf.Tensor4D;
  /** Tokens of every scale, (B, pn·pn) row-major each. */
  tokens: Int32Array[];
  /** The labels used, (B). */
  labels: Int32Array;
  /** With `returnLogits`: per-scale logits after CFG, (B, pn·pn, V). */
  logits?: Float32Array[];
  /** Edits only: per-scale sampled tokens before forcing. */
  sampled?: Int32Array[];
  /** Edits only: per-scale keep masks (1 = input token forced). */
  keep?: Uint8Array[];
  /** Edits only: the input's tokens per scale, (B, pn·pn) each. */
  inputTokens?: Int32Array[];
}

/**
 * What may change or watch one scale of the loop. Every method is optional; several hooks
 * compose in order.
 */
export interface ScaleHook {
  /** The tokens this scale keeps, from the ones drawn (editing: the source's where the mask keeps it). */
  tokens?(si: number, sampled: Int32Array): Int32Array;
  /** The embedding (B, Cvae, pn, pn) that updates f_hat (editing: blended with the source's); runs inside `tf.tidy`. */
  embedding?(si: number, h: tf.Tensor4D): tf.Tensor4D;
  /** Add to the scale's event before it is yielded (owned tensors are released in `release`). */
  event?(si: number, event: ScaleEvent, fHat: tf.Tensor4D): void;
  /** After the event was consumed. */
  release?(): void;
  /** Add to the result. */
  result?(result: GenerateResult): void;
  /** The generation's plan (chunks, weight packing), before the first scale. */
  plan?(plan: GenerationPlan): void;
}

/** Decode f_hat after every scale into `event.preview`, (B, C, H, W) in [0, 1], in the plan's decoder chunks. */
export function previewHook(vae: SamplerVQVAE): ScaleHook {
  let preview: tf.Tensor4D | null = null;
  let chunk = Infinity;
  return {
    plan(p) {
      chunk = p.decodeChunk;
    },
    event(_si, event, fHat) {
      preview = decodeImages(vae, fHat, chunk);
      event.preview = preview;
    },
    release() {
      preview?.dispose();
      preview = null;
    },
  };
}

/**
 * Decode the final f_hat: the official `fhat_to_img(f_hat).add(1).mul(0.5)`, (B, C, H, W) in
 * [0, 1]; `chunk` images at a time (default: all), concatenated.
 */
export function decodeImages(vae: SamplerVQVAE, fHat: tf.Tensor4D, chunk = Infinity): tf.Tensor4D {
  const decode = (f: tf.Tensor4D) => tf.tidy(() => tf.mul(tf.add(vae.fhatToImg(f), 1), 0.5) as tf.Tensor4D);
  const B = fHat.shape[0];
  if (!(chunk < B)) return decode(fHat);
  const parts: tf.Tensor4D[] = [];
  try {
    for (let s = 0; s < B; s += chunk) {
      const n = Math.min(chunk, B - s);
      parts.push(tf.tidy(() => decode(tf.slice(fHat, [s, 0, 0, 0], [n, -1, -1, -1]))));
    }
    return tf.concat(parts, 0);
  } finally {
    tf.dispose(parts);
  }
}

/**
 * The end of a generation: free the session (its KV cache and per-session AdaLN tensors) before
 * decoding, then decode the final f_hat (timed as `decode`) unless
 * `decode: false`. Disposes the images if the timing hook throws.
 */
export async function finishGeneration(
  vae: SamplerVQVAE,
  session: { dispose(): void },
  fHat: tf.Tensor4D,
  r: Resolved,
  clock: PhaseClock,
  decodeChunk = Infinity,
): Promise<tf.Tensor4D | null> {
  throwIfAborted(r.signal);
  session.dispose();
  clock.start();
  const images = r.decode ? decodeImages(vae, fHat, decodeChunk) : null;
  if (images) {
    try {
      await clock.end('decode', null, images);
    } catch (e) {
      images.dispose();
      throw e;
    }
  }
  return images;
}

/** The scale loop; yields one event per scale and returns the result. */
export async function* autoregressiveInferCfg(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  r: Resolved,
  hooks: ScaleHook[] = [],
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  const { B, rng } = r;
  const { patchNums, vocabSize: V } = model.config;
  const S = patchNums.length;
  const q = vae.quantizer;
  const codebook = r.moreSmooth ? codebookOf(vae) : null;
  const clock = new PhaseClock(r.onPhase);
  throwIfAborted(r.signal);
  // OutOfMemoryError before any allocation; chunks of images when the whole batch does not fit at once
  const plan = await assertBatchFits(vae, model, B, { decode: r.decode, chunk: r.chunk });
  for (const hk of hooks) hk.plan?.(plan);
  const leavePacking = enterWeightPacking(plan); // wasm: 'per-call' when the packed weights do not fit too
  clock.start();
  let opened: ReturnType<typeof openSession>;
  try {
    opened = openSession(model, r, plan.chunk);
  } catch (e) {
    leavePacking();
    throw e;
  }
  const { session, guided } = opened;
  clock.carry(); // the session's set-up counts into scale 0's transformer phase
  let fHat: tf.Tensor4D | null = null;
  let x: tf.Tensor3D | null = null;
  let done = false;
  const tokens: Int32Array[] = [];
  const logitsAll: Float32Array[] = [];
  try {
    for (let si = 0; si < S; si++) {
      await yieldToEventLoop(); // an abort from a timer or UI event can land between scales
      throwIfAborted(r.signal);
      const pn = patchNums[si];
      const ratio = S > 1 ? si / (S - 1) : 0;
      // 1.–2. the transformer's logits of this scale, guided
      const input = x;
      x = null;
      const logits = await scaleLogits(session, r, si, S, input, clock, guided);
      throwIfAborted(r.signal);
      // 3. filters, draw
      const { tokens: sampled, filtered } = sampleTokens(logits, V, rng, { topK: r.topK, topP: r.topP });
      const smooth = codebook ? smoothWeights(filtered, V, ratio, rng) : null;
      let kept = sampled;
      for (const hk of hooks) if (hk.tokens) kept = hk.tokens(si, kept);
      // 4. f_hat update and the next input
      const h = tf.tidy(() => {
        let hB = smooth && codebook ? smoothEmbedding(smooth, codebook, B, pn) : embedTokens(q, sampled, B, pn);
        for (const hk of hooks) if (hk.embedding) hB = hk.embedding(si, hB);
        return hB;
      });
      let res: { fHat: tf.Tensor4D; next: tf.Tensor4D | null };
      try {
        res = q.nextAutoregressiveInput(si, fHat, h);
      } finally {
        h.dispose();
      }
      if (fHat && fHat !== res.fHat) fHat.dispose();
      fHat = res.fHat;
      if (res.next) {
        x = nextInput(res.next, guided);
        res.next.dispose();
      }
      await clock.end('sampling', si, x ?? fHat);

      tokens.push(kept);
      if (r.returnLogits) logitsAll.push(logits);
      const event: ScaleEvent = { si, pn, scales: S, tokens: kept, ...(r.returnLogits ? { logits } : {}) };
      for (const hk of hooks) hk.event?.(si, event, fHat);
      try {
        yield event;
      } finally {
        for (const hk of hooks) hk.release?.();
      }
    }
    const f = fHat!;
    const images = await finishGeneration(vae, session, f, r, clock, plan.decodeChunk);
    done = true;
    const result: GenerateResult = { images, fHat: f, tokens, labels: r.labels, ...(r.returnLogits ? { logits: logitsAll } : {}) };
    for (const hk of hooks) hk.result?.(result);
    return result;
  } finally {
    session.dispose();
    x?.dispose();
    if (!done && fHat) fHat.dispose();
    leavePacking();
  }
}
