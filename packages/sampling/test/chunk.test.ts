/**
 * Chunked execution: a batch run through the transformer in chunks of images (one KV-cached
 * session per chunk) and decoded in chunks gives the tokens of the unchunked run exactly (the
 * draws stay over the whole batch, in the same order) and its logits and images to float
 * rounding; `chunk: 'auto'` chunks only when the whole batch does not fit the memory left.
 */
import * as tf from '@tensorflow/tfjs-core';
import { releaseWasmPackedWeights, ValueError } from '@var/core';
import { loadFixtureCase } from '@var/test-helpers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertBatchFits,
  estimateGenerationBytes,
  generate,
  generationShape,
  type GenerateOptions,
  type GenerateResult,
  type SamplerVAR,
} from '../src/index.js';
import { useBackend } from './backend.js';
import { loadModels, type Models } from './models.js';

const fc = loadFixtureCase();
let m: Models;
beforeAll(async () => {
  expect(await useBackend('wasm')).toBeNull();
  m = await loadModels(fc);
});
afterAll(() => m?.dispose());

/** The fixture's VAR, recording the labels of every session it starts. */
function spied(): { model: SamplerVAR; sessions: number[][] } {
  const sessions: number[][] = [];
  const model: SamplerVAR = {
    config: m.model.config,
    startInference: (labels) => {
      sessions.push(Array.from(labels));
      return m.model.startInference(labels);
    },
    forward: (labels, x, o) => {
      sessions.push(Array.from(labels));
      return m.model.forward(labels, x, o);
    },
  };
  return { model, sessions };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

interface Run {
  tokens: Int32Array[];
  logits: Float32Array[];
  images: Float32Array | null;
  sessions: number[][];
}

async function run(opts: Omit<GenerateOptions, 'labels'>, labels: number[]): Promise<Run> {
  const { model, sessions } = spied();
  const r: GenerateResult = await generate(m.vae, model, { labels, returnLogits: true, ...opts });
  const images = r.images ? ((await r.images.data()) as Float32Array) : null;
  tf.dispose([r.fHat, ...(r.images ? [r.images] : [])]);
  return { tokens: r.tokens, logits: r.logits!, images, sessions };
}

function expectSameRun(a: Run, b: Run): void {
  expect(b.tokens.length).toBe(a.tokens.length);
  a.tokens.forEach((t, si) => expect(Array.from(b.tokens[si])).toEqual(Array.from(t)));
  a.logits.forEach((l, si) => expect(maxAbsDiff(l, b.logits[si])).toBeLessThan(1e-4));
  if (a.images) expect(maxAbsDiff(a.images, b.images!)).toBeLessThan(1e-4);
}

describe('chunked generation', () => {
  const numClasses: number = fc.config.VAR.num_classes;
  const nc = () => numClasses;
  const labels = [0, 1, 2, 3].map((i) => i % numClasses);
  const opts = { cfg: 3, topK: Math.max(2, (fc.config.VQVAE.vocab_size as number) >> 1), topP: 0.9, seed: 5 };

  it('batch 4 in chunks of 1, 2 and 3 (uneven): the tokens of the unchunked run, logits and images to float rounding, no tensor left', async () => {
    const before = tf.memory().numTensors;
    const whole = await run(opts, labels);
    expect(whole.sessions).toEqual([[...labels, ...labels.map(() => nc())]]); // 'auto' with room: one session, as before
    // the draws matter: a run of another seed differs (so equal tokens are not a degenerate model's)
    const other = await run({ ...opts, seed: 6 }, labels);
    expect(other.tokens.some((t, si) => t.some((v, i) => v !== whole.tokens[si][i]))).toBe(true);
    for (const chunk of [1, 2, 3]) {
      const r = await run({ ...opts, chunk }, labels);
      // one session per chunk over its conditional and unconditional labels
      const want: number[][] = [];
      for (let s = 0; s < labels.length; s += chunk) {
        const part = labels.slice(s, s + chunk);
        want.push([...part, ...part.map(() => nc())]);
      }
      expect(r.sessions).toEqual(want);
      expectSameRun(whole, r);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('without guidance (cfg 0), uncached sessions and previews: chunks give the same result', async () => {
    const before = tf.memory().numTensors;
    const g0 = { ...opts, cfg: 0 };
    const a = await run(g0, labels);
    const b = await run({ ...g0, chunk: 2 }, labels);
    expect(b.sessions).toEqual([labels.slice(0, 2), labels.slice(2)]); // no unconditional half
    expectSameRun(a, b);
    const u = await run({ ...opts, kvCache: false, decode: false }, labels);
    const uc = await run({ ...opts, kvCache: false, decode: false, chunk: 3 }, labels);
    expectSameRun(u, uc);
    expectSameRun(await run({ ...opts, decode: false }, labels), uc); // and the cached run's
    // previews are decoded in the plan's decoder chunks
    const previews = async (chunk: 'auto' | number) => {
      const out: Float32Array[] = [];
      await generate(m.vae, m.model, {
        labels,
        ...opts,
        chunk,
        decode: false,
        previews: true,
        onScale: async (e) => {
          out.push((await e.preview!.data()) as Float32Array);
        },
      }).then((r) => r.fHat.dispose());
      return out;
    };
    const pa = await previews('auto'),
      pb = await previews(1);
    expect(pb.length).toBe(pa.length);
    pa.forEach((p, i) => expect(maxAbsDiff(p, pb[i])).toBeLessThan(1e-4));
    expect(tf.memory().numTensors).toBe(before);
  });

  it("'auto' chunks when only that fits the memory left, and the plan says so", async () => {
    const s = generationShape(m.vae, m.model)!;
    const B = labels.length;
    const prev = process.env.VAR_MEMORY_BUDGET_BYTES;
    const withBudget = async <T>(bytes: number, f: () => Promise<T>): Promise<T> => {
      process.env.VAR_MEMORY_BUDGET_BYTES = String(bytes);
      try {
        return await f();
      } finally {
        if (prev === undefined) delete process.env.VAR_MEMORY_BUDGET_BYTES;
        else process.env.VAR_MEMORY_BUDGET_BYTES = prev;
      }
    };
    const before = tf.memory().numTensors;
    // the transformer: room for chunks of 2 images with one weight packed at a time, not for the whole batch
    const t2 = estimateGenerationBytes(s, B, { decode: false, chunk: 2, weightPacking: 'per-call' });
    expect(estimateGenerationBytes(s, B, { decode: false, weightPacking: 'per-call' }).bytes).toBeGreaterThan(t2.bytes);
    const tr = await withBudget(t2.bytes, async () => {
      const plan = await assertBatchFits(m.vae, m.model, B, { decode: false });
      expect(plan.chunk).toBeGreaterThanOrEqual(2);
      expect(plan.chunk).toBeLessThan(B);
      expect(plan.estimate!.bytes).toBeLessThanOrEqual(t2.bytes);
      const r = await run({ ...opts, decode: false }, labels);
      expect(r.sessions.length).toBe(Math.ceil(B / plan.chunk));
      return r;
    });
    expectSameRun(await run({ ...opts, decode: false }, labels), tr);
    // the decoder: room for 2 images at a time (the transformer needs less here)
    const d2 = estimateGenerationBytes(s, B, { decodeChunk: 2 });
    expect(d2.decoderBytes).toBeGreaterThan(estimateGenerationBytes(s, B).transformerBytes);
    const dr = await withBudget(d2.decoderBytes, async () => {
      releaseWasmPackedWeights(); // the packed copies held are the estimate's fixed term only up to its size
      const plan = await assertBatchFits(m.vae, m.model, B);
      expect(plan.decodeChunk).toBe(2);
      return run(opts, labels);
    });
    expectSameRun(await run(opts, labels), dr);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a chunk that is not a positive integer is a ValueError', async () => {
    for (const chunk of [0, -1, 1.5, Number.NaN, 'all' as never]) {
      await expect(generate(m.vae, m.model, { labels, chunk })).rejects.toBeInstanceOf(ValueError);
      await expect(generate(m.vae, m.model, { labels, chunk })).rejects.toThrow(/chunk must be 'auto' or a positive integer/);
    }
  });
});
