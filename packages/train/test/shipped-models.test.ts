/**
 * The models shipped in @var/models (packages/models/weights/): they load, generate, and the
 * quality figures of their model cards (measured by experiments/quality.mjs on the whole held-out
 * split) are recomputed here on a small sample, with lower bounds a broken model would fail
 * (a random or untrained model scores ~10% class accuracy and a PSNR near 10 dB).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@var/core';
import { listModels, loadModel, type LoadedModel } from '@var/models';
import { generate } from '@var/sampling';
import { evalImages, evaluateDigitModel, loadDataset, type DatasetSpec } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
});

async function load(id: string): Promise<LoadedModel> {
  const entry = (await listModels()).find((m) => m.id === id);
  expect(entry?.bundled, `${id} is bundled in packages/models/weights/${id}`).toBe(true);
  return loadModel(id);
}

function datasetOf(m: LoadedModel): DatasetSpec {
  const spec = m.card.dataset.spec as DatasetSpec | undefined;
  expect(spec, 'the card records its dataset spec').toBeDefined();
  return spec!;
}

describe('shipped models', () => {
  it('weights are float16 and together ≤ 30 MB', async () => {
    const { statSync, readdirSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const { join } = await import('node:path');
    const root = fileURLToPath(new URL('../../models/weights/', import.meta.url));
    let total = 0;
    for (const id of ['mnist', 'emoji']) {
      for (const f of readdirSync(join(root, id))) total += statSync(join(root, id, f)).size;
      const m = await load(id);
      expect(m.card.dtype).toBe('F16');
      m.vae.dispose();
      m.var.dispose();
    }
    expect(total).toBeLessThanOrEqual(30 * 1024 * 1024);
  });

  it('mnist: reconstructions and generated digits are recognised by the digit classifier (200-digit sample)', async () => {
    const m = await load('mnist');
    const ds = await loadDataset(datasetOf(m));
    const s = m.card.sampling ?? {};
    const before = tf.memory().numTensors;
    const q = await evaluateDigitModel(m.vae, m.var, ds, { heldOut: 200, perClass: 20, cfg: s.cfg, topK: s.topK, topP: s.topP, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    console.info(`[shipped mnist, 200 digits] ${JSON.stringify(q)}`);
    const card = m.card.quality as { recAccuracy: number; genAccuracy: number; recFid: number; genFid: number };
    expect(q.realAccuracy).toBeGreaterThanOrEqual(0.97);
    expect(q.recAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(q.genAccuracy!).toBeGreaterThanOrEqual(0.95);
    for (const a of q.genAccuracyPerClass!) expect(a).toBeGreaterThanOrEqual(0.75);
    // FID on 200 samples is biased upwards against the card's 1,000-sample value: a loose bound
    expect(q.genFid!).toBeLessThan(Math.max(4 * card.genFid, card.genFid + 20));
    expect(q.recFid).toBeLessThan(Math.max(4 * card.recFid, card.recFid + 20));
    m.vae.dispose();
    m.var.dispose();
  });

  it("emoji: reconstruction PSNR near the card's, and one generated image per category", async () => {
    const m = await load('emoji');
    const ds = await loadDataset(datasetOf(m));
    const r = await evalImages(m.vae, ds, 100);
    const card = m.card.quality as { psnr: number };
    console.info(`[shipped emoji, 100 images] psnr ${r.psnr.toFixed(2)} dB (card: ${card.psnr.toFixed(2)} dB on the held-out split)`);
    expect(r.psnr).toBeGreaterThan(card.psnr - 1.5);
    expect(r.psnr).toBeGreaterThan(15);
    const before = tf.memory().numTensors;
    const labels = Int32Array.from({ length: m.var.config.numClasses }, (_, i) => i);
    const g = await generate(m.vae, m.var, { labels, cfg: m.card.sampling?.cfg, topK: m.card.sampling?.topK, seed: 0 });
    expect(g.images!.shape).toEqual([labels.length, 3, m.card.imageSize!, m.card.imageSize!]);
    const px = await g.images!.data();
    expect(px.every((v) => v >= 0 && v <= 1)).toBe(true);
    // not blank: the images have structure (spread of pixel values)
    let mean = 0;
    for (const v of px) mean += v / px.length;
    let varc = 0;
    for (const v of px) varc += (v - mean) ** 2 / px.length;
    expect(Math.sqrt(varc)).toBeGreaterThan(0.1);
    g.images!.dispose();
    g.fHat.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.vae.dispose();
    m.var.dispose();
  });
});
