/**
 * Seeded sampling gives identical tokens on every backend (tokens are drawn on the CPU in
 * float64 from downloaded logits), and greedy runs reproduce the official tokens on WebGPU.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { expectEqualInts, loadFixtureCase, testBackends } from '@var/test-helpers';
import { generate } from '../src/index.js';
import { useBackend } from './backend.js';
import { loadModels, parseRunCall } from './models.js';

const fc = loadFixtureCase();
const patchNums: number[] = fc.config.VAR.patch_nums;
const labels = Int32Array.from(fc.ref('label').data as Int32Array);
const settings = [
  { name: 'top-p 0.95, cfg 2', opts: { cfg: 2, topK: 0, topP: 0.95, seed: 123 } },
  {
    name: 'top-k half the vocabulary, more smooth',
    opts: { cfg: 3, topK: Math.max(2, fc.config.VQVAE.vocab_size >> 1), topP: 0, seed: 7, moreSmooth: true },
  },
];
const greedyRuns = Object.keys(fc.refs.tensors)
  .map((k) => /^(gen_.+)_img$/.exec(k)?.[1])
  .filter((k): k is string => !!k);

const wanted = testBackends(['cpu', 'wasm', 'webgpu']);
const results = new Map<string, Map<string, Int32Array[]>>(); // setting -> backend -> tokens

describe('seeded sampling is identical across backends', () => {
  afterAll(async () => {
    await useBackend('cpu');
  });
  for (const backend of wanted) {
    it(`${backend}: sample, and greedy runs reproduce the official tokens`, async (ctx) => {
      const why = await useBackend(backend);
      if (why) {
        console.log(`determinism on ${backend} skipped: ${why}`);
        ctx.skip();
        return;
      }
      const { vae, model, dispose } = await loadModels(fc);
      try {
        const before = tf.memory().numTensors;
        for (const s of settings) {
          const r = await generate(vae, model, { labels, ...s.opts, decode: false, returnLogits: true });
          // the draws matter: some token is not the argmax of its logits
          const V = model.config.vocabSize;
          let nonArgmax = 0;
          r.tokens.forEach((t, si) =>
            t.forEach((tok, i) => {
              const row = r.logits![si].subarray(i * V, (i + 1) * V);
              if (row[tok] < Math.max(...row)) nonArgmax++;
            }),
          );
          expect(nonArgmax).toBeGreaterThan(0);
          expect(r.images).toBeNull();
          tf.dispose(r.fHat);
          if (!results.has(s.name)) results.set(s.name, new Map());
          results.get(s.name)!.set(backend, r.tokens);
          // same seed twice on the same backend: identical
          const r2 = await generate(vae, model, { labels, ...s.opts, decode: false });
          tf.dispose(r2.fHat);
          r.tokens.forEach((t, si) => expectEqualInts(`${backend} ${s.name} repeat s${si}`, r2.tokens[si], t));
        }
        for (const run of greedyRuns) {
          const c = parseRunCall(fc, fc.refs.tensors[`${run}_img`].call);
          const r = await generate(vae, model, {
            labels: c.labels,
            cfg: c.cfg,
            topK: c.topK,
            topP: c.topP,
            seed: c.seed,
            decode: false,
            returnLogits: true,
          });
          let maxLogitErr = 0;
          r.logits!.forEach((lg, si) => {
            const ref = fc.ref(`${run}_logits_s${si}`).data;
            for (let i = 0; i < ref.length; i++) maxLogitErr = Math.max(maxLogitErr, Math.abs(lg[i] - ref[i]));
          });
          console.log(
            `[${backend}] ${run}: tokens of every scale identical to the official ones; max |logits - ref| = ${maxLogitErr.toExponential(2)}`,
          );
          expect(r.images).toBeNull();
          tf.dispose(r.fHat);
          patchNums.forEach((_, si) => expectEqualInts(`${backend} ${run} s${si}`, r.tokens[si], fc.ref(`${run}_idx_s${si}`).data));
        }
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        dispose();
      }
    });
  }
  it('every backend that ran drew the same tokens', () => {
    for (const [name, byBackend] of results) {
      const ran = [...byBackend.keys()];
      const first = byBackend.get(ran[0])!;
      for (const b of ran.slice(1)) {
        byBackend.get(b)!.forEach((t, si) => expectEqualInts(`${name}: ${b} vs ${ran[0]} s${si}`, t, first[si]));
      }
      console.log(`${name}: identical tokens on ${ran.join(', ')}`);
    }
    expect(results.size).toBe(settings.length);
  });
});
