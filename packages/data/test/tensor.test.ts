import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { interpolate, NonFiniteError, Rng, ShapeError, ValueError } from '@var/core';
import type { RawImage } from '../src/codec.js';
import { imagesToTensor, imageToTensor, tensorToImages } from '../src/tensor.js';
import { centerCrop, horizontalFlip, pad, randomCrop, randomHorizontalFlip, resize } from '../src/transforms.js';

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
});

function gradient(w: number, h: number, c: 1 | 3 | 4): RawImage {
  const data = new Uint8Array(w * h * c);
  for (let p = 0; p < w * h; p++) for (let k = 0; k < c; k++) data[p * c + k] = (p * 7 + k * 50) % 256;
  return { width: w, height: h, channels: c, data };
}

describe('imageToTensor / tensorToImages', () => {
  it('maps pixels to NCHW float32 [-1, 1] and back exactly', async () => {
    const img = gradient(5, 4, 3);
    const n0 = tf.memory().numTensors;
    const t = imageToTensor(img, { channels: 3 });
    expect(t.shape).toEqual([1, 3, 4, 5]);
    expect(t.dtype).toBe('float32');
    const v = t.dataSync();
    // pixel (y=1, x=2), channel 1 is at NCHW [0, 1, 1, 2]
    const p = 1 * 5 + 2;
    expect(v[1 * 20 + p]).toBeCloseTo((img.data[p * 3 + 1] / 255) * 2 - 1, 6);
    expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...v)).toBeLessThanOrEqual(1);
    const [back] = await tensorToImages(t);
    expect(back).toEqual(img);
    const [rgba] = await tensorToImages(t, { format: 'rgba' });
    expect(rgba.channels).toBe(4);
    expect(rgba.data[3]).toBe(255);
    t.dispose();
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('rounds and clamps as torchvision save_image after (x+1)/2', async () => {
    // x → clamp(floor(((x+1)/2)*255 + 0.5), 0, 255), in float32 steps.
    const xs = [-2, -1, 1, 3, 0, 0.5, -0.5, 1 / 255 - 1, 2 / 255 - 1 - 1e-7, Number.MIN_VALUE];
    const t = tf.tensor4d(xs, [1, 1, 1, xs.length]);
    const [img] = await tensorToImages(t);
    const f = Math.fround;
    const expected = xs.map((x) => {
      const v = f(f(f(f(f(x) + 1) * 0.5) * 255) + 0.5);
      return Math.min(255, Math.max(0, Math.floor(v)));
    });
    expect(Array.from(img.data)).toEqual(expected);
    expect(Array.from(img.data).slice(0, 7)).toEqual([0, 0, 255, 255, 128, 191, 64]);
    t.dispose();
  });

  it("with range 'unit' ([0, 1], as generate returns) rounds as save_image: floor(x*255 + 0.5)", async () => {
    const xs = [-1, 0, 1, 2, 0.5, 1 / 255, 0.5 / 255, 0.5 / 255 - 1e-7, 254.5 / 255];
    const t = tf.tensor4d(xs, [1, 1, 1, xs.length]);
    const [img] = await tensorToImages(t, { range: 'unit' });
    const f = Math.fround;
    expect(Array.from(img.data)).toEqual(xs.map((x) => Math.min(255, Math.max(0, Math.floor(f(f(f(x) * 255) + 0.5))))));
    expect(Array.from(img.data).slice(0, 5)).toEqual([0, 0, 255, 255, 128]);
    // gray stays gray in RGBA: the three colour bytes of a pixel are equal
    const [rgba] = await tensorToImages(t, { range: 'unit', format: 'rgba' });
    for (let p = 0; p < xs.length; p++) {
      expect([rgba.data[4 * p + 1], rgba.data[4 * p + 2], rgba.data[4 * p + 3]]).toEqual([img.data[p], img.data[p], 255]);
    }
    await expect(tensorToImages(t, { range: 'percent' as never })).rejects.toThrow(ValueError);
    t.dispose();
  });

  it('converts channels and composites alpha over white', () => {
    const rgba: RawImage = { width: 1, height: 1, channels: 4, data: new Uint8Array([0, 0, 0, 0]) };
    const t = imageToTensor(rgba, { channels: 3 });
    expect(Array.from(t.dataSync())).toEqual([1, 1, 1]);
    t.dispose();
    const g = imageToTensor(gradient(3, 3, 3), { channels: 1 });
    expect(g.shape).toEqual([1, 1, 3, 3]);
    g.dispose();
  });

  it('resizes with interpolate (area when shrinking) and center-crops non-square images', () => {
    const img = gradient(8, 8, 1);
    const n0 = tf.memory().numTensors;
    const t = imageToTensor(img, { channels: 1, size: 4 });
    const full = imageToTensor(img, { channels: 1 });
    const ref = interpolate(full, [4, 4], 'area');
    expect(t.shape).toEqual([1, 1, 4, 4]);
    // integer factors take a JS fast path: the same block means, to float32 rounding
    const tv = t.dataSync();
    ref.dataSync().forEach((r, i) => expect(Math.abs(tv[i] - r)).toBeLessThan(1e-6));
    // every mode and factor: the same weights as interpolate (accumulated in float64 here)
    const rgb = gradient(9, 7, 3);
    const rgbFull = imageToTensor(rgb, { channels: 3 });
    for (const [size, mode] of [
      [[3, 4], 'area'],
      [[5, 5], 'bilinear'],
      [[14, 11], 'bilinear'],
      [[10, 13], 'bicubic'],
      [[4, 6], 'bicubic'],
    ] as const) {
      const ours = imageToTensor(rgb, { channels: 3, size: [size[0], size[1]], mode });
      const refT = tf.tidy(() => tf.clipByValue(interpolate(rgbFull, [size[0], size[1]], mode), -1, 1));
      expect(ours.shape).toEqual(refT.shape);
      const o = ours.dataSync();
      refT.dataSync().forEach((r, i) => expect(Math.abs(o[i] - r)).toBeLessThan(2e-6));
      tf.dispose([ours, refT]);
    }
    rgbFull.dispose();
    // 6 wide × 4 high, size 2: shorter side 4 → 2, longer 6 → 3, then a 2×2 center crop.
    const wide = imageToTensor(gradient(6, 4, 3), { channels: 3, size: 2 });
    expect(wide.shape).toEqual([1, 3, 2, 2]);
    const wideFull = imageToTensor(gradient(6, 4, 3), { channels: 3 });
    const wideRefT = interpolate(wideFull, [2, 3], 'area');
    const wideRef = wideRefT.arraySync()[0];
    // torchvision's CenterCrop: left = round((3 - 2) / 2) = round(0.5) = 0 (half to even).
    const want = wideRef.flatMap((ch) => ch.flatMap((row) => row.slice(0, 2)));
    const got = wide.arraySync()[0].flat(2);
    expect(got.length).toBe(want.length);
    got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThan(1e-6));
    tf.dispose([wideFull, wideRefT]);
    const up = imageToTensor(img, { channels: 1, size: [16, 12] });
    expect(up.shape).toEqual([1, 1, 16, 12]);
    expect(Math.max(...up.dataSync())).toBeLessThanOrEqual(1);
    tf.dispose([t, full, ref, wide, up]);
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('batches images of different sizes only with a size', () => {
    const imgs = [gradient(4, 4, 3), gradient(6, 6, 1)];
    expect(() => imagesToTensor(imgs, { channels: 3 })).toThrow(ShapeError);
    const n0 = tf.memory().numTensors;
    const t = imagesToTensor(imgs, { channels: 3, size: 4 });
    expect(t.shape).toEqual([2, 3, 4, 4]);
    t.dispose();
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('throws typed errors for bad input', async () => {
    const img = gradient(2, 2, 3);
    expect(() => imageToTensor(img, { channels: 2 as 1 })).toThrow(/channels must be 1 \(gray\) or 3/);
    expect(() => imageToTensor(img, { channels: 3, size: 0 })).toThrow(ShapeError);
    expect(() => imageToTensor(img, { channels: 3, size: 1, mode: 'nearest' as 'area' })).toThrow(ValueError);
    expect(() => imageToTensor({ ...img, data: new Uint8Array(3) }, { channels: 3 })).toThrow(ShapeError);
    const t2 = tf.zeros([1, 2, 2, 2]) as tf.Tensor4D;
    await expect(tensorToImages(t2)).rejects.toThrow(ShapeError);
    const t3 = tf.zeros([2, 2, 2]) as unknown as tf.Tensor4D;
    await expect(tensorToImages(t3)).rejects.toThrow(/rank 4/);
    const nan = tf.tensor4d([0, NaN], [1, 1, 1, 2]);
    await expect(tensorToImages(nan)).rejects.toThrow(NonFiniteError);
    const ints = tf.zeros([1, 1, 1, 1], 'int32') as tf.Tensor4D;
    await expect(tensorToImages(ints)).rejects.toThrow(ValueError);
    tf.dispose([t2, t3, nan, ints]);
  });
});

describe('transforms', () => {
  it('flip, crops, pad and resize have the right shapes/values and leak nothing', () => {
    const x = tf.tensor4d(
      Array.from({ length: 2 * 1 * 3 * 4 }, (_, i) => i / 24),
      [2, 1, 3, 4],
    );
    const n0 = tf.memory().numTensors;
    const f = horizontalFlip(x);
    expect(Array.from(f.dataSync()).slice(0, 4)).toEqual(Array.from(x.dataSync()).slice(0, 4).reverse());
    const { images, flipped } = randomHorizontalFlip(x, new Rng(3), 0.5);
    const again = randomHorizontalFlip(x, new Rng(3), 0.5);
    expect(again.flipped).toEqual(flipped);
    const xs = x.arraySync();
    const ys = images.arraySync();
    flipped.forEach((fl, b) => expect(ys[b][0][1]).toEqual(fl ? [...xs[b][0][1]].reverse() : xs[b][0][1]));
    const c = centerCrop(x, [1, 2]);
    expect(c.arraySync()[0][0]).toEqual([xs[0][0][1].slice(1, 3)]);
    const rc = randomCrop(x, 2, new Rng(1));
    expect(rc.shape).toEqual([2, 1, 2, 2]);
    expect(() => randomCrop(x, 5, new Rng(1))).toThrow(ShapeError);
    const p = pad(x, 1);
    expect(p.shape).toEqual([2, 1, 5, 6]);
    expect(p.arraySync()[0][0][0][0]).toBe(-1);
    const r = resize(x, [6, 8]);
    expect(r.shape).toEqual([2, 1, 6, 8]);
    tf.dispose([f, images, again.images, c, rc, p, r]);
    expect(tf.memory().numTensors).toBe(n0);
    x.dispose();
  });
});
