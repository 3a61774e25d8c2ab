import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, ValueError } from '@var/core';
import { decodeImage } from '@var/data';
import { getModelCard, OFFICIAL_SAMPLING, presetCard, type LoadProgress } from '@var/models';
import { generate } from '@var/sampling';
import { fixtureDir, loadFixtureCase } from '@var/test-helpers';
import { loadGenerator, type Generator } from '../src/index.js';

let mnist: Generator;
const events: LoadProgress[] = [];

beforeAll(async () => {
  mnist = await loadGenerator('mnist', { backend: 'wasm', threads: 1, onProgress: (p) => events.push(p) });
});
afterAll(() => mnist?.dispose());

describe('loadGenerator', () => {
  it('reports load progress in bytes per file, ending at each file size', async () => {
    const files = [...new Set(events.filter((e) => e.loaded !== undefined).map((e) => e.file))];
    expect(files.map((f) => f!.split(/[\\/]/).pop())).toEqual(['vae.safetensors', 'var.safetensors']);
    for (const f of files) {
      const ev = events.filter((e) => e.file === f && e.loaded !== undefined);
      expect(ev[ev.length - 1].loaded).toBe(ev[ev.length - 1].total);
      expect(ev[ev.length - 1].total).toBeGreaterThan(100_000);
    }
    expect(events[events.length - 1]).toMatchObject({ stage: 'done', fraction: 1 });
    expect(mnist.backend?.name).toBe('wasm');
  });

  it("knows the card: class names, channels, size, and the card's sampling as the default", async () => {
    const card = await getModelCard('mnist');
    expect(mnist.classNames).toEqual(card.classNames);
    expect(mnist.channels).toBe(1);
    expect(mnist.imageSize).toBe(card.imageSize);
    expect(mnist.sampling).toMatchObject(card.sampling!);
  });

  it('official presets bring the official sampling', () => {
    expect(presetCard('d16').sampling).toEqual({ cfg: 1.5, topK: 900, topP: 0.96, moreSmooth: false });
    expect(OFFICIAL_SAMPLING).toEqual(presetCard('d30').sampling);
  });

  it('loads your own .pth checkpoints with an official config, classes by index', async () => {
    const fc = loadFixtureCase();
    const before = tf.memory().numTensors;
    const gen = await loadGenerator(
      { vae: join(fixtureDir(), 'vae.pth'), var: join(fixtureDir(), 'var.pth'), config: fc.config },
      { backend: null },
    );
    expect(gen.numClasses).toBe(fc.config.VAR.num_classes);
    expect(gen.classIndex(String(gen.numClasses - 1))).toBe(gen.numClasses - 1);
    const { images } = await gen.generate({ classes: [0], seed: 1 });
    expect(images).toHaveLength(1);
    expect(images[0].width).toBe(gen.imageSize);
    gen.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects sources it cannot use with a ValueError', async () => {
    await expect(loadGenerator({ vae: 'a.pth', var: 'b.pth' } as never, { backend: null })).rejects.toThrow(/exactly one of preset/);
    await expect(loadGenerator(42 as never, { backend: null })).rejects.toThrow(ValueError);
    await expect(loadGenerator('no-such-model', { backend: null })).rejects.toThrow(/unknown model/);
  });
});

describe('Generator.generate', () => {
  it('gives gray images of the asked classes, as PNG and RGBA, equal to the sampler with the same settings', async () => {
    const before = tf.memory().numTensors;
    const r = await mnist.generate({ classes: ['7', 3], count: 2, seed: 5 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.seed).toBe(5);
    expect(r.sampling).toEqual({ ...mnist.sampling });
    expect(r.images.map((im) => im.label)).toEqual([7, 7, 3, 3]);
    expect(r.images.map((im) => im.className)).toEqual(['7', '7', '3', '3'].map((c) => mnist.classNames[Number(c)]));
    for (const im of r.images) {
      expect([im.width, im.height, im.channels]).toEqual([32, 32, 1]);
      // gray stays gray: R = G = B, alpha 255
      for (let p = 0; p < im.width * im.height; p++) {
        const v = im.pixels.data[p];
        expect([im.rgba[4 * p], im.rgba[4 * p + 1], im.rgba[4 * p + 2], im.rgba[4 * p + 3]]).toEqual([v, v, v, 255]);
      }
      const png = decodeImage(im.png());
      expect(png.channels).toBe(1);
      expect(Array.from(png.data)).toEqual(Array.from(im.pixels.data));
    }
    // image b is image b: the two sevens differ
    expect(Array.from(r.images[0].pixels.data)).not.toEqual(Array.from(r.images[1].pixels.data));
    // the same as the sampler given the card's settings and the same seed
    const m = mnist.models;
    const direct = await generate(m.vae, m.var, { labels: [7, 7, 3, 3], rng: new Rng(5), ...mnist.sampling });
    const want = Array.from(await direct.images!.data()).map((x) =>
      Math.min(255, Math.max(0, Math.floor(Math.fround(Math.fround(x * 255) + 0.5)))),
    );
    direct.images!.dispose();
    direct.fHat.dispose();
    expect(r.images.flatMap((im) => Array.from(im.pixels.data))).toEqual(want);
  });

  it('is reproducible by seed, and the batch size is a documented part of it', async () => {
    const a = await mnist.generate({ classes: [1], count: 3, seed: 9 });
    const b = await mnist.generate({ classes: [1], count: 3, seed: 9 });
    expect(a.images.map((im) => Array.from(im.pixels.data))).toEqual(b.images.map((im) => Array.from(im.pixels.data)));
    const c = await mnist.generate({ classes: [1], count: 3, seed: 10 });
    expect(c.images.map((im) => Array.from(im.pixels.data))).not.toEqual(a.images.map((im) => Array.from(im.pixels.data)));
  });

  it('overrides, previews per scale, and tensors on request', async () => {
    const before = tf.memory().numTensors;
    const scales: number[] = [];
    const r = await mnist.generate({
      classes: 'uncond',
      seed: 2,
      cfg: 0,
      topK: 0,
      topP: 0,
      previews: true,
      returnTensor: true,
      onScale: (ev) => {
        scales.push(ev.pn);
        expect(ev.previews).toHaveLength(1);
        expect(ev.previews![0].channels).toBe(1);
      },
    });
    expect(scales).toEqual(mnist.models.var.config.patchNums);
    expect(r.sampling).toMatchObject({ cfg: 0, topK: 0, topP: 0 });
    expect(r.images[0].label).toBe(mnist.numClasses);
    expect(r.tensor!.shape).toEqual([1, 1, 32, 32]);
    r.tensor!.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('gives typed errors for bad requests and leaves no tensors', async () => {
    const before = tf.memory().numTensors;
    await expect(mnist.generate({ classes: ['eleven'] })).rejects.toThrow(/unknown class "eleven"/);
    await expect(mnist.generate({ classes: [11] })).rejects.toThrow(ValueError);
    await expect(mnist.generate({ classes: [] })).rejects.toThrow(/classes is empty/);
    await expect(mnist.generate({ count: 0 })).rejects.toThrow(/count must be/);
    await expect(mnist.generate({ classes: [1], cfg: Number.NaN })).rejects.toThrow(/cfg must be/);
    await expect(mnist.generate({ classes: [1], topP: 2 })).rejects.toThrow(/topP must be/);
    const ac = new AbortController();
    ac.abort();
    await expect(mnist.generate({ classes: [1], signal: ac.signal })).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('Generator.edit', () => {
  it('edits PNG bytes: keeping everything reproduces the source whatever the seed; a rectangle regenerates its part', async () => {
    const before = tf.memory().numTensors;
    const [src] = (await mnist.generate({ classes: [0], seed: 3 })).images;
    const keepAll = { y0: 0, x0: 0, y1: 1, x1: 1, inpainting: false };
    const a = await mnist.edit({ image: src.png(), mask: keepAll, seed: 1 });
    const b = await mnist.edit({ image: src.png(), mask: keepAll, seed: 2 });
    expect(a.kept!.every((k) => k.kept === k.total)).toBe(true);
    expect(Array.from(a.images[0].pixels.data)).toEqual(Array.from(b.images[0].pixels.data));
    expect(a.input!.channels).toBe(1);
    expect(Array.from(a.input!.pixels.data)).toEqual(Array.from(src.pixels.data));
    // the same picture without running the model; a 64-px RGB upload comes out at the model's size, gray
    const seen = await mnist.inputImage(src.png());
    expect(Array.from(seen.pixels.data)).toEqual(Array.from(src.pixels.data));
    const big = await mnist.inputImage({ width: 64, height: 64, channels: 3, data: new Uint8Array(64 * 64 * 3).fill(200) });
    expect([big.width, big.height, big.channels]).toEqual([32, 32, 1]);
    // ImageData-like RGBA input works as well as PNG bytes
    const c = await mnist.edit({
      image: { width: src.width, height: src.height, data: src.rgba },
      mask: { y0: 0, x0: 0, y1: 0.5, x1: 1 },
      classes: '7',
      seed: 4,
    });
    expect(c.images[0].label).toBe(7);
    expect(c.kept!.some((k) => k.kept < k.total)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    // the tokens of a result edit it without decoding and re-encoding: the same as editing its pixels here
    const gen0 = await mnist.generate({ classes: [0], seed: 3 });
    const byTokens = await mnist.edit({ inputTokens: gen0.tokens, mask: keepAll, seed: 1 });
    expect(byTokens.inputTokens).toEqual(gen0.tokens);
    expect(byTokens.input).toBeUndefined();
    expect(Array.from(byTokens.images[0].pixels.data)).toEqual(Array.from(src.pixels.data));
    await expect(mnist.edit({ image: src.png(), inputTokens: gen0.tokens, mask: keepAll })).rejects.toThrow(/exactly one/);
    await expect(mnist.edit({ image: src.png() } as never)).rejects.toThrow(/mask is missing/);
    await expect(mnist.edit({ image: new Uint8Array([1, 2, 3]), mask: keepAll })).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('three channels', () => {
  it('the emoji model gives RGB images', async () => {
    const gen = await loadGenerator('emoji', { backend: null });
    try {
      expect(gen.channels).toBe(3);
      const { images } = await gen.generate({ classes: [gen.classNames[0]], seed: 0 });
      expect(images[0].channels).toBe(3);
      expect(decodeImage(images[0].png()).channels).toBe(3);
    } finally {
      gen.dispose();
    }
  });

  it('a disposed generator says so', async () => {
    const gen = await loadGenerator('emoji', { backend: null });
    gen.dispose();
    await expect(gen.generate()).rejects.toThrow(/disposed/);
  });
});

describe('models too large for the backend', () => {
  it('d24 and d30 fail on wasm before any weight is read, naming webgpu; d16 and d20 pass the check', async () => {
    const { assertWeightsFitBackend, weightBytes, presetCard: card } = await import('@var/models');
    const { OutOfMemoryError } = await import('@var/core');
    // the files do not exist: an OutOfMemoryError (not "cannot open") shows nothing was read
    for (const preset of ['d24', 'd30']) {
      const err = await loadGenerator(
        { vae: '/nonexistent/vae_ch160v4096z32.pth', var: `/nonexistent/var_${preset}.pth`, preset },
        { backend: null },
      ).catch((e) => e);
      expect(err, preset).toBeInstanceOf(OutOfMemoryError);
      expect(err.message).toMatch(/wasm backend addresses at most 4\.00 GiB/);
      expect(err.message).toMatch(/webgpu/);
    }
    expect(weightBytes(card('d24'))).toBeGreaterThan(4e9);
    expect(weightBytes(card('d30'))).toBeGreaterThan(8e9);
    for (const preset of ['d16', 'd20']) expect(() => assertWeightsFitBackend(card(preset), 'wasm', 0)).not.toThrow();
    // other backends: no wasm limit
    expect(() => assertWeightsFitBackend(card('d30'), 'webgpu', 0)).not.toThrow();
    // d20 does not fit next to 2 GiB of other tensors
    expect(() => assertWeightsFitBackend(card('d20'), 'wasm', 2 * 2 ** 30)).toThrow(OutOfMemoryError);
  });
});
