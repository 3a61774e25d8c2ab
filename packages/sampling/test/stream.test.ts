/**
 * Streaming per scale, AbortSignal, tensor hygiene, typed errors, the "more smooth" option and
 * editing with mask images — on the fixture case's models (wasm, or cpu when wasm is unavailable).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AbortError, ConfigError, ShapeError, ValueError } from '@var/core';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { CPU_MAX_VQVAE_COST, loadFixtureCase, vqvaeCost } from '@var/test-helpers';
import { edit, editStream, generate, generateStream, getEditMask, type GenerateResult, type ScaleEvent } from '../src/index.js';
import { parseRunCall } from './models.js';
import { useBackend } from './backend.js';
import { loadModels, type Models } from './models.js';

const fc = loadFixtureCase();
const patchNums: number[] = fc.config.VAR.patch_nums;
const S = patchNums.length;
const numClasses: number = fc.config.VAR.num_classes;
const labels = Int32Array.from(fc.ref('label').data as Int32Array);
const B = labels.length;
const imgRef = fc.ref('img');
const side: number = fc.config.img_size;

let m: Models;
beforeAll(async () => {
  if (await useBackend('wasm')) expect(await useBackend('cpu')).toBeNull();
  m = await loadModels(fc);
});
afterAll(() => m?.dispose());

const freeResult = (r: GenerateResult) => tf.dispose([r.fHat, ...(r.images ? [r.images] : [])]);

describe('streaming', () => {
  it('onScale gets every scale in order with tokens and a preview image; no tensor leaks', async () => {
    const before = tf.memory().numTensors;
    const events: { si: number; pn: number; tokens: Int32Array; previewShape: number[]; min: number; max: number }[] = [];
    let lastPreview: Float32Array | null = null;
    const r = await generate(m.vae, m.model, {
      labels,
      cfg: 1.5,
      topK: 8,
      seed: 3,
      previews: true,
      onScale: async (e: ScaleEvent) => {
        const p = e.preview!;
        const d = (await p.data()) as Float32Array;
        lastPreview = d.slice();
        // a loop, not Math.min(...d): a 256 px preview has more values than the call stack takes arguments
        let min = Infinity,
          max = -Infinity;
        for (const v of d) {
          if (v < min) min = v;
          if (v > max) max = v;
        }
        events.push({ si: e.si, pn: e.pn, tokens: e.tokens, previewShape: p.shape, min, max });
        expect(e.scales).toBe(S);
      },
    });
    expect(events.map((e) => e.si)).toEqual(patchNums.map((_, i) => i));
    events.forEach((e, si) => {
      expect(e.pn).toBe(patchNums[si]);
      expect(e.tokens.length).toBe(B * patchNums[si] ** 2);
      expect(Array.from(e.tokens)).toEqual(Array.from(r.tokens[si]));
      expect(e.previewShape).toEqual([B, 3, side, side]);
      expect(e.min).toBeGreaterThanOrEqual(0);
      expect(e.max).toBeLessThanOrEqual(1);
    });
    // the last preview is the final image
    const img = (await r.images!.data()) as Float32Array;
    let d = 0;
    for (let i = 0; i < img.length; i++) d = Math.max(d, Math.abs(img[i] - lastPreview![i]));
    expect(d).toBeLessThan(1e-6);
    freeResult(r);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the async iterator yields the same scales and returns the result', async () => {
    const before = tf.memory().numTensors;
    const ref = await generate(m.vae, m.model, { labels, cfg: 2, topP: 0.9, seed: 11, decode: false });
    const it = generateStream(m.vae, m.model, { labels, cfg: 2, topP: 0.9, seed: 11, decode: false });
    const seen: number[] = [];
    let res: IteratorResult<ScaleEvent, GenerateResult>;
    while (!(res = await it.next()).done) {
      seen.push(res.value.si);
      expect(Array.from(res.value.tokens)).toEqual(Array.from(ref.tokens[res.value.si]));
    }
    expect(seen).toEqual(patchNums.map((_, i) => i));
    const r = res.value;
    r.tokens.forEach((t, si) => expect(Array.from(t)).toEqual(Array.from(ref.tokens[si])));
    freeResult(r);
    freeResult(ref);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('breaking out of for-await stops and frees everything (previews included)', async () => {
    const before = tf.memory().numTensors;
    let n = 0;
    for await (const e of generateStream(m.vae, m.model, { labels, seed: 1, previews: true })) {
      expect(e.preview).toBeDefined();
      n++;
      if (n === Math.min(2, S)) break;
    }
    expect(n).toBe(Math.min(2, S));
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('AbortSignal', () => {
  it('aborting mid-generation rejects with AbortError and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    const seen: number[] = [];
    const p = generate(m.vae, m.model, {
      labels,
      seed: 0,
      previews: true,
      signal: ac.signal,
      onScale: (e) => {
        seen.push(e.si);
        if (e.si === 0) ac.abort('user');
      },
    });
    await expect(p).rejects.toBeInstanceOf(AbortError);
    expect(seen).toEqual([0]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an abort from a timer lands between scales', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 0);
    await expect(generate(m.vae, m.model, { labels, seed: 0, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an already-aborted signal rejects at once; aborted edits and streams leak nothing', async () => {
    const before = tf.memory().numTensors;
    const ac = new AbortController();
    ac.abort();
    await expect(generate(m.vae, m.model, { labels, signal: ac.signal })).rejects.toBeInstanceOf(AbortError);
    const img = tf.tensor4d(imgRef.data as Float32Array, imgRef.shape as [number, number, number, number]);
    const ac2 = new AbortController();
    await expect(
      edit(m.vae, m.model, {
        labels,
        image: img,
        mask: { y0: 0.25, x0: 0.25, y1: 0.75, x1: 0.75 },
        signal: ac2.signal,
        onScale: (e) => {
          if (e.si === S - 1) ac2.abort();
        },
      }),
    ).rejects.toBeInstanceOf(AbortError);
    const ac3 = new AbortController();
    const st = editStream(m.vae, m.model, { labels, image: img, mask: { y0: 0, x0: 0, y1: 0.5, x1: 1 }, signal: ac3.signal });
    await st.next();
    ac3.abort();
    await expect(st.next()).rejects.toBeInstanceOf(AbortError);
    img.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an error thrown by onScale propagates and frees the run', async () => {
    const before = tf.memory().numTensors;
    await expect(
      generate(m.vae, m.model, {
        labels,
        previews: true,
        onScale: () => {
          throw new Error('boom');
        },
      }),
    ).rejects.toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('typed errors', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['label below 0', { labels: [-1] }],
    ['label above numClasses', { labels: [numClasses + 1] }],
    ['non-integer label', { labels: [1.5] }],
    ['empty labels', { labels: [] }],
    ['count 0', { labels: 1, count: 0 }],
    ['negative count', { labels: 1, count: -2 }],
    ['cfg < 0', { labels: [0], cfg: -0.5 }],
    ['cfg NaN', { labels: [0], cfg: NaN }],
    ['topK < 0', { labels: [0], topK: -1 }],
    ['topK non-integer', { labels: [0], topK: 2.5 }],
    ['topP NaN', { labels: [0], topP: NaN }],
    ['non-integer seed', { labels: [0], seed: 0.5 }],
  ];
  for (const [name, o] of cases) {
    it(`ValueError: ${name}`, async () => {
      const before = tf.memory().numTensors;
      await expect(generate(m.vae, m.model, o as never)).rejects.toBeInstanceOf(ValueError);
      expect(tf.memory().numTensors).toBe(before);
    });
  }
  it('the message says what was expected and what was found', async () => {
    await expect(generate(m.vae, m.model, { labels: [0, numClasses + 5] })).rejects.toThrow(
      new RegExp(`label 1 must be an integer in \\[0, ${numClasses}\\].*got ${numClasses + 5}`),
    );
  });
  it('class numClasses is the unconditional class and is accepted', async () => {
    const r = await generate(m.vae, m.model, { labels: numClasses, count: 2, topK: 1, decode: false });
    expect(Array.from(r.labels)).toEqual([numClasses, numClasses]);
    freeResult(r);
  });
  it('ConfigError for a tokenizer and a transformer that do not belong together', async () => {
    const base = varConfig(fc.config.VAR, fc.config.VQVAE);
    const variants = [
      { ...base, vocabSize: base.vocabSize + 1 },
      { ...base, Cvae: base.Cvae + 1 },
      { ...base, patchNums: [...base.patchNums.slice(0, -1), base.patchNums[base.patchNums.length - 1] + 1] },
    ];
    for (const cfg of variants) {
      const other = VAR.create(cfg, { seed: 0 });
      const before = tf.memory().numTensors;
      await expect(generate(m.vae, other, { labels: [0] })).rejects.toBeInstanceOf(ConfigError);
      expect(() => generateStream(m.vae, other, { labels: [0] })).toThrow(ConfigError);
      expect(tf.memory().numTensors).toBe(before);
      other.dispose();
    }
  });
  it('ShapeError for edit images and masks of the wrong shape', async () => {
    const before = tf.memory().numTensors;
    const img = tf.tensor4d(imgRef.data as Float32Array, imgRef.shape as [number, number, number, number]);
    const wrongSize = tf.zeros([B, 3, side / 2, side / 2]) as tf.Tensor4D;
    const nhwc = tf.zeros([B, side, side, 3]) as tf.Tensor4D;
    const badMask = tf.zeros([1, 2, 4, 4]);
    const badMaskB = tf.zeros([B + 1, 1, 4, 4]);
    await expect(edit(m.vae, m.model, { labels, image: img, mask: [[1, 0], [1]] })).rejects.toBeInstanceOf(ShapeError);
    await expect(
      edit(m.vae, m.model, { labels, image: img, mask: { width: 4, height: 4, data: new Uint8Array(10) } }),
    ).rejects.toBeInstanceOf(ShapeError);
    const rect = { y0: 0.25, x0: 0.25, y1: 0.75, x1: 0.75 };
    await expect(edit(m.vae, m.model, { labels, image: wrongSize, mask: rect })).rejects.toBeInstanceOf(ShapeError);
    await expect(edit(m.vae, m.model, { labels, image: nhwc, mask: rect })).rejects.toBeInstanceOf(ShapeError);
    await expect(edit(m.vae, m.model, { labels, image: img, mask: badMask })).rejects.toBeInstanceOf(ShapeError);
    await expect(edit(m.vae, m.model, { labels, image: img, mask: badMaskB })).rejects.toBeInstanceOf(ShapeError);
    // n images with n + 1 labels (a single image is broadcast to every label, so use two when the case has one)
    const imgs = B > 1 ? img : tf.concat([img, img]);
    await expect(
      edit(m.vae, m.model, { labels: Array<number>(imgs.shape[0] + 1).fill(0), image: imgs, mask: rect }),
    ).rejects.toBeInstanceOf(ShapeError);
    if (imgs !== img) imgs.dispose();
    await expect(edit(m.vae, m.model, { labels, mask: rect } as never)).rejects.toBeInstanceOf(ValueError);
    tf.dispose([img, wrongSize, nhwc, badMask, badMaskB]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('more smooth (Gumbel-softmax preview)', () => {
  it('first scale tokens match the plain run, later f_hat differs, and it is seeded', async () => {
    const before = tf.memory().numTensors;
    const o = { labels, cfg: 3, topK: 16, topP: 0.95, seed: 5, decode: false };
    const plain = await generate(m.vae, m.model, o);
    const s1 = await generate(m.vae, m.model, { ...o, moreSmooth: true });
    const s2 = await generate(m.vae, m.model, { ...o, moreSmooth: true });
    expect(Array.from(s1.tokens[0])).toEqual(Array.from(plain.tokens[0]));
    s1.tokens.forEach((t, si) => expect(Array.from(t)).toEqual(Array.from(s2.tokens[si])));
    const a = await s1.fHat.data(),
      b = await plain.fHat.data(),
      c = await s2.fHat.data();
    let diff = 0,
      same = 0;
    for (let i = 0; i < a.length; i++) {
      diff = Math.max(diff, Math.abs(a[i] - b[i]));
      same = Math.max(same, Math.abs(a[i] - c[i]));
    }
    expect(diff).toBeGreaterThan(1e-3);
    expect(same).toBe(0);
    [plain, s1, s2].forEach(freeResult);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('editing with mask images and other classes', () => {
  it('a mask tensor equal to the rectangle gives the same run; (1,1,H,W) full-resolution masks and class-conditional edits force the kept tokens', async () => {
    const before = tf.memory().numTensors;
    const img = tf.tensor4d(imgRef.data as Float32Array, imgRef.shape as [number, number, number, number]);
    const rect = { y0: 0.25, x0: 0.25, y1: 0.75, x1: 0.75, inpainting: true };
    const o = { labels, cfg: 3, topK: 1, seed: 0, decode: false };
    const a = await edit(m.vae, m.model, { ...o, image: img, mask: rect });
    const mt = getEditMask(patchNums, rect.y0, rect.x0, rect.y1, rect.x1, rect.inpainting);
    const b = await edit(m.vae, m.model, { ...o, image: img, mask: mt });
    a.tokens.forEach((t, si) => expect(Array.from(b.tokens[si])).toEqual(Array.from(t)));
    // full-resolution mask image (nearest upsample of the token mask), one for the whole batch
    const big = tf.tidy(() => {
      const P = patchNums[S - 1];
      const up = tf.reshape(tf.tile(tf.reshape(mt, [P, 1, P, 1]), [1, side / P, 1, side / P]), [1, 1, side, side]);
      return up as tf.Tensor4D;
    });
    // class-conditional editing: regenerate the region with another class
    const other = Int32Array.from(labels, (l) => (l + 1) % numClasses);
    const inputTok = m.vae.imgToIdx(img);
    const gt = await Promise.all(inputTok.map((t) => t.data()));
    tf.dispose(inputTok);
    const c = await edit(m.vae, m.model, { ...o, labels: other, image: img, mask: big });
    expect(Array.from(c.labels)).toEqual(Array.from(other));
    let forced = 0,
      free = 0;
    c.tokens.forEach((t, si) => {
      const keep = c.keep![si];
      for (let i = 0; i < t.length; i++) {
        if (keep[i]) {
          expect(t[i]).toBe(gt[si][i]);
          forced++;
        } else {
          expect(t[i]).toBe(c.sampled![si][i]);
          free++;
        }
      }
    });
    expect(forced).toBeGreaterThan(0);
    expect(free).toBeGreaterThan(0);
    // every scale with pn² <= 3 is fully forced
    patchNums.forEach((pn, si) => {
      if (pn * pn <= 3) expect(c.keep![si].every((k) => k === 1)).toBe(true);
    });
    // inputTokens instead of an image gives the same edit
    const d = await edit(m.vae, m.model, { ...o, labels: other, inputTokens: gt.map((g) => Int32Array.from(g)), mask: big });
    d.tokens.forEach((t, si) => expect(Array.from(t)).toEqual(Array.from(c.tokens[si])));
    [a, b, c, d].forEach(freeResult);
    tf.dispose([img, mt, big]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('without the KV cache', () => {
  it('recomputing every scale with forward() gives the official greedy tokens and the cached sampled tokens', async () => {
    const before = tf.memory().numTensors;
    const run = Object.keys(fc.refs.tensors)
      .map((k) => /^(gen_.+)_img$/.exec(k)?.[1])
      .find((k) => !!k)!;
    const c = parseRunCall(fc, fc.refs.tensors[`${run}_img`].call);
    const g = await generate(m.vae, m.model, {
      labels: c.labels,
      cfg: c.cfg,
      topK: c.topK,
      topP: c.topP,
      seed: c.seed,
      kvCache: false,
      decode: false,
    });
    patchNums.forEach((_, si) => expect(Array.from(g.tokens[si])).toEqual(Array.from(fc.ref(`${run}_idx_s${si}`).data)));
    const o = { labels, cfg: 2.5, topP: 0.9, seed: 77, decode: false };
    const a = await generate(m.vae, m.model, { ...o, kvCache: false });
    const b = await generate(m.vae, m.model, o);
    a.tokens.forEach((t, si) => expect(Array.from(t)).toEqual(Array.from(b.tokens[si])));
    [g, a, b].forEach(freeResult);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('robustness', () => {
  it('100 consecutive generations leave tf.memory().numTensors unchanged', async () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < 100; i++) {
      // every 25th run decodes the image and streams previews (the decoder dominates the time);
      // the others stop at f_hat
      const full = i % 25 === 0;
      // previews decode every scale: only where the case's decoder is small (a 256 px case would take minutes)
      const previews = full && vqvaeCost(fc) <= CPU_MAX_VQVAE_COST;
      const r = await generate(m.vae, m.model, {
        labels,
        seed: i,
        topK: 4,
        cfg: 1 + (i % 3),
        decode: full,
        previews,
        moreSmooth: i % 7 === 0,
      });
      freeResult(r);
      expect(tf.memory().numTensors).toBe(before);
    }
  });
  it('masks from arrays and images give the same edit as the tensor mask', async () => {
    const before = tf.memory().numTensors;
    const img = tf.tensor4d(imgRef.data as Float32Array, imgRef.shape as [number, number, number, number]);
    const P = patchNums[S - 1];
    const mt = getEditMask(patchNums, 0, 0.25, 1, 0.75, false);
    const md = await mt.data();
    const rows = Array.from({ length: P }, (_, r) => Array.from(md.slice(r * P, (r + 1) * P)));
    const rgba = new Uint8ClampedArray(P * P * 4);
    for (let i = 0; i < P * P; i++) rgba.fill(md[i] * 255, 4 * i, 4 * i + 4);
    const o = { labels, cfg: 2, topK: 1, decode: false, image: img };
    const a = await edit(m.vae, m.model, { ...o, mask: mt });
    const b = await edit(m.vae, m.model, { ...o, mask: rows });
    const c = await edit(m.vae, m.model, { ...o, mask: { width: P, height: P, data: rgba } });
    for (const x of [b, c])
      x.tokens.forEach((t, si) => {
        expect(Array.from(t)).toEqual(Array.from(a.tokens[si]));
        expect(Array.from(x.keep![si])).toEqual(Array.from(a.keep![si]));
      });
    [a, b, c].forEach(freeResult);
    tf.dispose([img, mt]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
