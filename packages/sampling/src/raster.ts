/**
 * Raster-order autoregression, the baseline VAR is compared with in the paper: a single-scale
 * VQ tokenizer (vPatchNums [g]) and a transformer whose "scales" are single tokens
 * (patchNums = g² ones, see `rasterPatchNums` in @var/transformer). The block-causal mask
 * over one-token blocks is a causal mask, the level embedding a learned position embedding,
 * and the input of position t+1 is the codebook vector of token t (projected by the same
 * word embedding). Generation then runs g² KV-cached steps of one token each instead of one
 * step per scale, with the same guidance and top-k/top-p sampler.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, throwIfAborted } from '@var/core';
import { codebookOf, embedTokens } from './embed.js';
import { sampleTokens } from './filter.js';
import { finishGeneration, type GenerateResult, type ScaleEvent } from './infer.js';
import type { Resolved } from './options.js';
import { openSession, scaleLogits, yieldToEventLoop } from './session.js';
import { PhaseClock } from './timing.js';
import type { SamplerQuantizer, SamplerVAR, SamplerVQVAE } from './types.js';

/** patchNums of a raster-order transformer over a g×g token grid: g² ones. */
export function rasterPatchNums(grid: number): number[] {
  return new Array<number>(grid * grid).fill(1);
}

/** True when the transformer is a raster-order model of this single-scale tokenizer. */
export function isRasterPair(q: Pick<SamplerQuantizer, 'vPatchNums'>, model: SamplerVAR): boolean {
  const pq = q.vPatchNums;
  const pv = model.config.patchNums;
  return pq.length === 1 && pq[0] > 1 && pv.length === pq[0] * pq[0] && pv.every((p) => p === 1);
}

/**
 * Raster-order generation: g² one-token steps with the same guidance (constant strength by
 * default) and filters; the input of step t+1 is the codebook vector of token t. Plain
 * generation only (no edits, moreSmooth, previews or uncached sessions).
 */
export async function* rasterInfer(vae: SamplerVQVAE, model: SamplerVAR, r: Resolved): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  if (r.moreSmooth || r.previews || !r.kvCache) {
    throw new ConfigError('a raster-order model supports plain generation only (no edits, moreSmooth, previews or kvCache: false)');
  }
  const { B, rng } = r;
  const { patchNums, vocabSize: V, Cvae } = model.config;
  const S = patchNums.length;
  const q = vae.quantizer;
  const codebook = codebookOf(vae);
  const grid = new Int32Array(B * S); // (B, g²) row-major
  const clock = new PhaseClock(r.onPhase);
  throwIfAborted(r.signal);
  clock.start();
  const { session, guided } = openSession(model, r);
  clock.carry();
  let x: tf.Tensor3D | null = null;
  let fHat: tf.Tensor4D | null = null;
  let done = false;
  const logitsAll: Float32Array[] = [];
  try {
    for (let si = 0; si < S; si++) {
      await yieldToEventLoop();
      throwIfAborted(r.signal);
      const input = x;
      x = null;
      const logits = await scaleLogits(session, r, si, S, input, clock, guided);
      throwIfAborted(r.signal);
      const { tokens: sampled } = sampleTokens(logits, V, rng, { topK: r.topK, topP: r.topP });
      for (let b = 0; b < B; b++) grid[b * S + si] = sampled[b];
      if (si + 1 < S) {
        x = tf.tidy(() => {
          const e = tf.reshape(tf.gather(codebook, tf.tensor1d(sampled, 'int32')), [B, 1, Cvae]) as tf.Tensor3D;
          return guided ? (tf.concat([e, e], 0) as tf.Tensor3D) : e;
        });
      } else {
        const h = tf.tidy(() => embedTokens(q, grid, B, q.vPatchNums[0]));
        try {
          fHat = q.nextAutoregressiveInput(0, null, h).fHat;
        } finally {
          h.dispose();
        }
      }
      await clock.end('sampling', si, x ?? fHat);
      if (r.returnLogits) logitsAll.push(logits);
      yield { si, pn: 1, scales: S, tokens: sampled, ...(r.returnLogits ? { logits } : {}) };
    }
    const f = fHat!;
    const images = await finishGeneration(vae, session, f, r, clock);
    done = true;
    // `tokens` holds the tokenizer's single scale (B, g²); the per-step tokens went out as events
    return { images, fHat: f, tokens: [grid], labels: r.labels, ...(r.returnLogits ? { logits: logitsAll } : {}) };
  } finally {
    session.dispose();
    x?.dispose();
    if (!done && fHat) fHat.dispose();
  }
}
