/**
 * NaN/Inf in weights and images, and sampler options at the edges of their ranges, on the
 * fixture case's models. Other bad input of this package (labels, cfg, topK, topP NaN, masks,
 * mismatched models) is covered in stream.test.ts, filter.test.ts and mask.test.ts (see
 * docs/errors.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonFiniteError } from '@var/core';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { loadFixtureCase } from '@var/test-helpers';
import { edit, generate, type GenerateResult } from '../src/index.js';
import { useBackend } from './backend.js';
import { loadModels, type Models } from './models.js';

const fc = loadFixtureCase();
const imgRef = fc.ref('img');

let m: Models;
beforeAll(async () => {
  if (await useBackend('wasm')) expect(await useBackend('cpu')).toBeNull();
  m = await loadModels(fc);
});
afterAll(() => m?.dispose());

const free = (r: GenerateResult) => tf.dispose([r.fHat, ...(r.images ? [r.images] : [])]);

describe('non-finite tensors', () => {
  it('a transformer whose weights hold NaN: generate rejects with NonFiniteError and frees every tensor', async () => {
    const sd = m.model.stateDict();
    const head = sd.get('head.bias')!;
    const data = Float32Array.from(head.data as Float32Array);
    data[0] = NaN;
    sd.set('head.bias', { ...head, data });
    const broken = VAR.fromStateDict(varConfig(fc.config.VAR, fc.config.VQVAE), sd);
    const before = tf.memory().numTensors;
    await expect(generate(m.vae, broken, { labels: [0], seed: 1 })).rejects.toBeInstanceOf(NonFiniteError);
    await expect(generate(m.vae, broken, { labels: [0], seed: 1 })).rejects.toThrow(/NaN/);
    expect(tf.memory().numTensors).toBe(before);
    broken.dispose();
  });

  for (const bad of [NaN, Infinity]) {
    it(`an edit image holding ${bad}: NonFiniteError, no tensor leaks`, async () => {
      const x = Float32Array.from(imgRef.data as Float32Array);
      x[5] = bad;
      const img = tf.tensor4d(x, imgRef.shape as [number, number, number, number]);
      const B = imgRef.shape[0];
      const before = tf.memory().numTensors;
      await expect(
        edit(m.vae, m.model, { labels: new Array(B).fill(0), image: img, mask: { y0: 0, x0: 0, y1: 0.5, x1: 1 }, seed: 1 }),
      ).rejects.toBeInstanceOf(NonFiniteError);
      expect(tf.memory().numTensors).toBe(before);
      img.dispose();
    });
  }
});

describe('sampler options at the edges', () => {
  it('topP outside (0, 1) and topK >= vocabulary size are "off", as in the official sampler', async () => {
    const V: number = fc.config.VQVAE.vocab_size;
    const o = { labels: [1], seed: 7, decode: false } as const;
    const ref = await generate(m.vae, m.model, { ...o, topK: 0, topP: 0 });
    for (const edge of [{ topP: 1 }, { topP: 1.5 }, { topP: -0.5 }, { topP: Infinity }, { topK: V }, { topK: V + 10 }]) {
      const r = await generate(m.vae, m.model, { ...o, ...edge });
      r.tokens.forEach((t, si) => expect(Array.from(t), `${JSON.stringify(edge)} scale ${si}`).toEqual(Array.from(ref.tokens[si])));
      free(r);
    }
    free(ref);
  });
});
