/**
 * The memory estimate of a generation and the typed error for a batch too large for the backend:
 * the estimate bounds the measured peak (tf.profile) from above without being loose, and a batch
 * that does not fit fails with OutOfMemoryError before anything is allocated, naming the largest
 * batch that fits — which then runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { OutOfMemoryError } from '@var/core';
import { VQVAE, resolveVQVAEConfig, VQVAE_PRESETS } from '@var/tokenizer';
import { VAR, midBenchConfigs, varPreset } from '@var/transformer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixtureCase } from '@var/test-helpers';
import {
  WASM_HEAP_MAX_BYTES,
  assertBatchFits,
  availableBytes,
  estimateGenerationBytes,
  generate,
  generationShape,
  largestBatchThatFits,
  type SamplerVAR,
  type SamplerVQVAE,
} from '../src/index.js';
import { useBackend } from './backend.js';
import { loadModels, type Models } from './models.js';

const fc = loadFixtureCase();

/** The bench's "mid" models (VQVAE ch 64, V 512, 128 px; VAR depth 6, width 384): big enough that activations matter. */
function midModels(): { vae: VQVAE; model: VAR } {
  const c = midBenchConfigs({ numClasses: 10 });
  return { vae: VQVAE.create(c.vae, { seed: 0 }), model: VAR.create(c.var, { seed: 0 }) };
}

describe('generation memory estimate', () => {
  let mid: { vae: VQVAE; model: VAR };
  beforeAll(async () => {
    expect(await useBackend('wasm')).toBeNull();
    mid = midModels();
  });
  afterAll(() => {
    mid?.vae.dispose();
    mid?.model.dispose();
  });

  it('bounds the measured peak (tf.profile) from above, within 1.6x, for batches 1, 2, 4', async () => {
    const s = generationShape(mid.vae, mid.model)!;
    expect(s.imageSize).toBe(mid.vae.imageSize);
    for (const B of [1, 2, 4]) {
      const base = tf.memory().numBytes;
      const p = await tf.profile(async () => {
        const r = await generate(mid.vae, mid.model, { labels: Array(B).fill(3), cfg: 4, topK: 100, topP: 0.95, seed: 0 });
        tf.dispose([r.images!, r.fHat]);
      });
      const peak = p.peakBytes - base;
      // XNNPACK's packed copies (the fixed terms) are outside tf.profile: the tensors' part
      const e = estimateGenerationBytes(s, B);
      const est = Math.max(e.transformerBytes - e.transformerFixedBytes, e.decoderBytes - e.transformerFixedBytes - e.decoderFixedBytes);
      console.log(
        `mid, batch ${B}: measured peak ${(peak / 2 ** 20).toFixed(1)} MiB, estimate ${(est / 2 ** 20).toFixed(1)} MiB (x${(est / peak).toFixed(2)})`,
      );
      expect(est).toBeGreaterThanOrEqual(peak);
      expect(est).toBeLessThan(1.6 * peak);
    }
  });

  it('chunked (transformer and decoder): bounds the measured peak from above, within 1.6x', async () => {
    const s = generationShape(mid.vae, mid.model)!;
    // decode: false isolates the transformer phase; XNNPACK's packed copies (the fixed terms) are outside tf.profile
    const cases: { B: number; chunk: number | 'auto'; decode: boolean }[] = [
      { B: 1, chunk: 'auto', decode: false },
      { B: 4, chunk: 'auto', decode: false },
      { B: 4, chunk: 1, decode: false },
      { B: 4, chunk: 2, decode: false },
      { B: 8, chunk: 1, decode: false },
      { B: 4, chunk: 1, decode: true },
      { B: 4, chunk: 2, decode: true },
    ];
    for (const { B, chunk, decode } of cases) {
      const base = tf.memory().numBytes;
      const p = await tf.profile(async () => {
        const r = await generate(mid.vae, mid.model, { labels: Array(B).fill(3), cfg: 4, topK: 100, topP: 0.95, seed: 0, chunk, decode });
        tf.dispose([r.fHat, ...(r.images ? [r.images] : [])]);
      });
      const peak = p.peakBytes - base;
      const c = chunk === 'auto' ? B : chunk;
      const e = estimateGenerationBytes(s, B, { chunk: c, decodeChunk: c, decode });
      expect(e.chunk).toBe(c);
      const est = Math.max(e.transformerBytes - e.transformerFixedBytes, e.decoderBytes - e.transformerFixedBytes - e.decoderFixedBytes);
      console.log(
        `mid, batch ${B}, chunk ${c}, decode ${decode}: measured peak ${(peak / 2 ** 20).toFixed(1)} MiB, estimate ${(est / 2 ** 20).toFixed(1)} MiB (x${(est / peak).toFixed(2)})`,
      );
      expect(est).toBeGreaterThanOrEqual(peak);
      expect(est).toBeLessThan(1.6 * peak);
    }
  });

  it('grows with the batch; largestBatchThatFits is the exact boundary', () => {
    const s = generationShape(mid.vae, mid.model)!;
    const e1 = estimateGenerationBytes(s, 1),
      e8 = estimateGenerationBytes(s, 8);
    expect(e8.bytes).toBeGreaterThan(e1.bytes);
    expect(estimateGenerationBytes(s, 8, { decode: false }).decoderPerImageBytes).toBe(0);
    for (const budget of [e1.bytes - 1, e1.bytes, 3e8, 1e9]) {
      const n = largestBatchThatFits(s, budget);
      if (n > 0) expect(estimateGenerationBytes(s, n).bytes).toBeLessThanOrEqual(budget);
      expect(estimateGenerationBytes(s, n + 1).bytes).toBeGreaterThan(budget);
    }
    expect(largestBatchThatFits(s, e1.bytes - 1)).toBe(0);
  });

  it('d16 at 256 px on wasm: a batch of 64 is an OutOfMemoryError naming the largest batch, before any allocation', async () => {
    // the released d16 and VQVAE configurations (no weights needed: the check reads sizes only)
    const vaeCfg = resolveVQVAEConfig(VQVAE_PRESETS.vae_ch160v4096z32);
    const vae = {
      config: vaeCfg,
      downsample: 2 ** (vaeCfg.chMult.length - 1),
      quantizer: { vPatchNums: vaeCfg.vPatchNums },
    } as unknown as SamplerVQVAE;
    const model = { config: varPreset('d16') } as unknown as SamplerVAR;
    const s = generationShape(vae, model)!;
    expect(s.imageSize).toBe(256);
    const weights = (310_283_520 + 108_948_355) * 4; // what the loaded d16 + VQVAE would hold on the heap
    const budget = WASM_HEAP_MAX_BYTES - weights - 128 * 2 ** 20;
    const prev = process.env.VAR_MEMORY_BUDGET_BYTES;
    process.env.VAR_MEMORY_BUDGET_BYTES = String(budget);
    try {
      expect(await availableBytes()).toBe(budget);
      // the transformer on its own, the whole batch at once: every weight packed, or one at a time (wasm packs per product when it must)
      const cachedLargest = largestBatchThatFits(s, budget, { decode: false });
      const unchunkedLargest = largestBatchThatFits(s, budget, { decode: false, weightPacking: 'per-call' });
      // in chunks of one image with one weight packed at a time: only the KV caches of the batch grow with it
      const largest = largestBatchThatFits(s, budget, { weightPacking: 'per-call', chunk: 1, decodeChunk: 1 });
      expect(cachedLargest).toBeGreaterThanOrEqual(1); // one d16 image fits in wasm's 4 GiB (the bench generates it)
      expect(unchunkedLargest).toBeGreaterThan(cachedLargest); // without a packed copy of every weight, more images fit
      expect(unchunkedLargest).toBeLessThan(8); // the whole batch of 8 at once does not fit ...
      expect(largest).toBeGreaterThanOrEqual(8); // ... in chunks it does
      expect(largest).toBeLessThan(64);
      const p8 = await assertBatchFits(vae, model, 8);
      expect(p8.weightPacking).toBe('per-call');
      expect(p8.chunk).toBeGreaterThanOrEqual(1);
      expect(p8.chunk).toBeLessThan(8);
      expect(p8.decodeChunk).toBeLessThan(8);
      expect(p8.estimate!.bytes).toBeLessThanOrEqual(budget);
      // the chunk is the largest that fits
      expect(estimateGenerationBytes(s, 8, { weightPacking: 'per-call', chunk: p8.chunk + 1 }).transformerBytes).toBeGreaterThan(budget);
      expect(estimateGenerationBytes(s, 8, { weightPacking: 'per-call', decodeChunk: p8.decodeChunk + 1 }).decoderBytes).toBeGreaterThan(
        budget,
      );
      console.log(
        `d16 on wasm: largest batch ${largest} (unchunked ${unchunkedLargest}); batch 8 runs in chunks of ${p8.chunk}, decodes ${p8.decodeChunk} at a time`,
      );
      const before = { n: tf.memory().numTensors, bytes: tf.memory().numBytes };
      const err = await assertBatchFits(vae, model, 64).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(OutOfMemoryError);
      expect(err.code).toBe('E_OUT_OF_MEMORY');
      expect(err.largestBatch).toBe(largest);
      expect(err.message).toMatch(
        new RegExp(
          `a batch of 64 image\\(s\\) at 256 px .* needs about [\\d.]+ GiB on wasm in chunks of one image with one weight packed at a time \\(the KV caches of the whole batch stay alive\\), but about [\\d.]+ GiB is available.*the largest batch that fits is ${largest}`,
        ),
      );
      expect({ n: tf.memory().numTensors, bytes: tf.memory().numBytes }).toEqual(before);
      const cached = await assertBatchFits(vae, model, cachedLargest);
      expect(cached.weightPacking).toBe('cached');
      expect(cached.chunk).toBe(cachedLargest); // no chunking where the batch fits, as before
      const unchunked = await assertBatchFits(vae, model, unchunkedLargest);
      expect([unchunked.weightPacking, unchunked.chunk]).toEqual(['per-call', unchunkedLargest]);
      const plan = await assertBatchFits(vae, model, largest);
      expect(plan.weightPacking).toBe('per-call');
      expect(plan.chunk).toBe(1);
      expect(plan.estimate!.bytes).toBeLessThanOrEqual(budget);
      expect(plan.estimate!.transformerFixedBytes).toBe(6 * 1024 * 1024 * 4); // the largest weight: a block's ada_lin (6C × C)
    } finally {
      if (prev === undefined) delete process.env.VAR_MEMORY_BUDGET_BYTES;
      else process.env.VAR_MEMORY_BUDGET_BYTES = prev;
    }
  });
});

describe('generate() with a batch too large for the memory left', () => {
  let m: Models;
  beforeAll(async () => {
    expect(await useBackend('wasm')).toBeNull();
    m = await loadModels(fc);
  });
  afterAll(() => m?.dispose());

  it('rejects with OutOfMemoryError before allocating; the largest batch it names runs', async () => {
    const s = generationShape(m.vae, m.model)!;
    // room for 3 images of the case, in chunks of one with one weight packed at a time
    const budget = estimateGenerationBytes(s, 3, { weightPacking: 'per-call', chunk: 1, decodeChunk: 1 }).bytes;
    const prev = process.env.VAR_MEMORY_BUDGET_BYTES;
    process.env.VAR_MEMORY_BUDGET_BYTES = String(budget);
    try {
      const before = tf.memory().numTensors;
      const err = await generate(m.vae, m.model, { labels: Array(8).fill(1), seed: 0 }).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(OutOfMemoryError);
      // on wasm the largest batch is counted with one packed weight at a time, in chunks of one image (at least the 3 of the budget)
      const largest = largestBatchThatFits(s, budget, { weightPacking: 'per-call', chunk: 1, decodeChunk: 1 });
      expect(largest).toBeGreaterThanOrEqual(3);
      expect(largest).toBeLessThan(8);
      expect(err.largestBatch).toBe(largest);
      expect(err.message).toMatch(new RegExp(`the largest batch that fits is ${largest}`));
      expect(tf.memory().numTensors).toBe(before);
      const r = await generate(m.vae, m.model, { labels: Array(err.largestBatch).fill(1), seed: 0 });
      expect(r.images!.shape[0]).toBe(largest);
      tf.dispose([r.images!, r.fHat]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      if (prev === undefined) delete process.env.VAR_MEMORY_BUDGET_BYTES;
      else process.env.VAR_MEMORY_BUDGET_BYTES = prev;
    }
  });
});
