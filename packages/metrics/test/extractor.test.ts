import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { computeStatsFromImages, type FeatureExtractor } from '../src/extractor.js';
import { FeatureStats } from '../src/stats.js';
import { AbortError, ShapeError } from '../src/errors.js';

/** A tiny extractor: features = per-image pixel moments, logits = first 3 pixels. */
const toy: FeatureExtractor = {
  featureDim: 4,
  numClasses: 3,
  async extract(images) {
    const flat = tf.tidy(() => tf.reshape(images, [images.shape[0], -1]));
    const v = await flat.data();
    flat.dispose();
    const [b] = images.shape;
    const per = v.length / b;
    const features = new Float32Array(b * 4);
    const logits = new Float32Array(b * 3);
    for (let i = 0; i < b; i++) {
      let s = 0,
        s2 = 0,
        mx = -Infinity,
        mn = Infinity;
      for (let j = 0; j < per; j++) {
        const x = v[i * per + j];
        s += x;
        s2 += x * x;
        mx = Math.max(mx, x);
        mn = Math.min(mn, x);
      }
      features.set([s / per, s2 / per, mx, mn], i * 4);
      logits.set([v[i * per], v[i * per + 1], v[i * per + 2]], i * 3);
    }
    return { features, logits };
  },
};

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('computeStatsFromImages', () => {
  it('streams batches (sync, async) into the same statistics as all features at once', async () => {
    const imgs = [5, 1, 7].map((b, k) => tf.randomUniform([b, 1, 6, 6], -1, 1, 'float32', k) as tf.Tensor4D);
    const all = await Promise.all(imgs.map((x) => toy.extract(x)));
    const feats = new Float32Array(13 * 4);
    let o = 0;
    for (const a of all) {
      feats.set(a.features, o);
      o += a.features.length;
    }
    const direct = FeatureStats.fromFeatures(feats, 13, 4);
    const before = tf.memory().numTensors;
    const r = await computeStatsFromImages(toy, imgs, { collectLogits: true, collectFeatures: true });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.count).toBe(13);
    expect(r.features).toEqual(feats);
    expect(r.logits!.length).toBe(13 * 3);
    expect(r.logits!.subarray(5 * 3, 6 * 3)).toEqual(all[1].logits);
    expect(Array.from(r.stats.sigma()).map((v, i) => Math.abs(v - direct.sigma()[i]) < 1e-12)).not.toContain(false);
    async function* gen() {
      for (const x of imgs) yield x;
    }
    const seen: number[] = [];
    const r2 = await computeStatsFromImages(toy, gen(), { onProgress: (c) => seen.push(c) });
    expect(seen).toEqual([5, 6, 13]);
    expect(r2.stats.mu()).toEqual(r.stats.mu());
    const ac = new AbortController();
    ac.abort();
    await expect(computeStatsFromImages(toy, imgs, { signal: ac.signal })).rejects.toThrow(AbortError);
    await expect(computeStatsFromImages({ ...toy, numClasses: 0 }, imgs, { collectLogits: true })).rejects.toThrow(ShapeError);
    await computeStatsFromImages(toy, imgs, { disposeBatches: true });
    expect(imgs.every((x) => x.isDisposed)).toBe(true);
  });
});
