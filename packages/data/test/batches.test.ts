import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AbortError, ValueError } from '@var/core';
import { batches, batchesPerEpoch, type Batch, type BatchOptions } from '../src/batches.js';
import { subset, type ImageDataset } from '../src/dataset.js';
import { rngFor } from '../src/random.js';
import { randomHorizontalFlip } from '../src/transforms.js';

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
});

/** Run the iterator, keeping per batch: indices, labels, epoch/step and a checksum of the pixels. */
async function collect(ds: ImageDataset, opts: BatchOptions) {
  const out: { indices: number[]; labels: number[]; epoch: number; step: number; sum: number; shape: number[] }[] = [];
  for await (const b of batches(ds, opts)) {
    const v = b.images.dataSync();
    let sum = 0;
    for (let i = 0; i < v.length; i++) sum += v[i] * ((i % 97) + 1);
    out.push({ indices: Array.from(b.indices), labels: Array.from(b.labels), epoch: b.epoch, step: b.step, sum, shape: b.images.shape });
  }
  return out;
}

/**
 * 50 gray 32×32 images in 10 classes (5 each, class-major), every one different and
 * asymmetric left to right, so that shuffles, flips and resizes show in the pixels.
 * (Batching of the real MNIST and emoji sets is tested in @var/datasets.)
 */
function patternDataset(n = 50, side = 32): ImageDataset {
  const labels = Int32Array.from({ length: n }, (_, i) => Math.floor((i * 10) / n));
  const ds: ImageDataset = {
    name: 'patterns',
    length: n,
    classNames: Array.from({ length: 10 }, (_, c) => String(c)),
    labels,
    key: (i) => `patterns/${i}`,
    get: async (i) => {
      if (!(Number.isInteger(i) && i >= 0 && i < n)) throw new ValueError(`patterns: index ${i} out of range`);
      const data = new Uint8Array(side * side);
      for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) data[y * side + x] = (i * 37 + x * x * 3 + y * 5) % 256;
      return { width: side, height: side, channels: 1, data };
    },
  };
  return ds;
}

describe('batches', () => {
  let ds: ImageDataset;
  beforeAll(() => {
    ds = subset(
      patternDataset(100),
      Array.from({ length: 50 }, (_, i) => i * 2),
    ); // 50 images, all classes
  });

  it('keeps tf.memory bounded to one batch and frees everything at the end or on break', async () => {
    const n0 = tf.memory().numTensors;
    const b0 = tf.memory().numBytes;
    let steps = 0;
    for await (const b of batches(ds, { batchSize: 8, channels: 1, size: 16, epochs: 3, hflip: 0.5, seed: 3 })) {
      expect(b.images.shape).toEqual([b.indices.length, 1, 16, 16]);
      expect(tf.memory().numTensors).toBe(n0 + 1);
      expect(tf.memory().numBytes - b0).toBe(b.indices.length * 16 * 16 * 4);
      const v = b.images.dataSync();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
      steps++;
    }
    expect(steps).toBe(3 * batchesPerEpoch(50, 8));
    expect(tf.memory().numTensors).toBe(n0);
    for await (const b of batches(ds, { batchSize: 8, channels: 3 })) {
      expect(b.images.shape[1]).toBe(3);
      break;
    }
    expect(tf.memory().numTensors).toBe(n0);
    // autoDispose: false hands ownership to the caller
    const kept: Batch[] = [];
    for await (const b of batches(ds, { batchSize: 20, channels: 1, autoDispose: false, shuffle: false })) kept.push(b);
    expect(tf.memory().numTensors).toBe(n0 + 3);
    expect(kept.map((b) => b.images.shape[0])).toEqual([20, 20, 10]);
    tf.dispose(kept.map((b) => b.images));
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('is deterministic, covers every image once per epoch, and resumes exactly', async () => {
    const opts: BatchOptions = { batchSize: 8, channels: 1, epochs: 2, seed: 11, hflip: 0.5 };
    const a = await collect(ds, opts);
    const b = await collect(ds, opts);
    expect(a).toEqual(b);
    const c = await collect(ds, { ...opts, seed: 12 });
    expect(c.map((x) => x.indices)).not.toEqual(a.map((x) => x.indices));
    for (const e of [0, 1]) {
      const seen = a.filter((x) => x.epoch === e).flatMap((x) => x.indices);
      expect([...seen].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    }
    expect(a.filter((x) => x.epoch === 0).map((x) => x.indices)).not.toEqual(a.filter((x) => x.epoch === 1).map((x) => x.indices));
    expect(a[0].labels).toEqual(a[0].indices.map((i) => ds.labels[i]));
    // resume at epoch 1, step 2: the same batches (order and flips) as the uninterrupted run
    const r = await collect(ds, { ...opts, startEpoch: 1, startStep: 2 });
    expect(r).toEqual(a.filter((x) => x.epoch === 1 && x.step >= 2));
    // dropLast / drop_last
    const d = await collect(ds, { batchSize: 8, channels: 1, dropLast: true });
    expect(d.map((x) => x.indices.length)).toEqual([8, 8, 8, 8, 8, 8]);
    expect((await collect(ds, { batchSize: 8, channels: 1, drop_last: true })).length).toBe(6);
    // without shuffle: dataset order
    const s = await collect(ds, { batchSize: 25, channels: 1, shuffle: false });
    expect(s[1].indices).toEqual(Array.from({ length: 25 }, (_, i) => 25 + i));
  });

  it('flips only some images, and the same ones on every run', async () => {
    const plain = await collect(ds, { batchSize: 50, channels: 1, shuffle: false });
    const flipped = await collect(ds, { batchSize: 50, channels: 1, shuffle: false, hflip: 0.5, seed: 1 });
    expect(flipped[0].sum).not.toBe(plain[0].sum);
    const allFlipped = await collect(ds, { batchSize: 50, channels: 1, shuffle: false, hflip: 1 });
    expect(allFlipped[0].sum).not.toBe(flipped[0].sum);
    // the batch flips are randomHorizontalFlip's, drawn from the (seed, epoch) flip stream
    for await (const plainB of batches(ds, { batchSize: 50, channels: 1, shuffle: false, autoDispose: false })) {
      for await (const flipB of batches(ds, { batchSize: 50, channels: 1, shuffle: false, hflip: 0.5, seed: 1 })) {
        const ref = randomHorizontalFlip(plainB.images, rngFor(1, 'flip', 0), 0.5);
        expect(ref.flipped.filter(Boolean).length).toBeGreaterThan(10);
        expect(ref.flipped.filter(Boolean).length).toBeLessThan(40);
        expect(Array.from(flipB.images.dataSync())).toEqual(Array.from(ref.images.dataSync()));
        ref.images.dispose();
      }
      plainB.images.dispose();
    }
  });

  it('throws typed errors for bad options and aborts', async () => {
    const run = (o: Partial<BatchOptions>) => collect(ds, { batchSize: 8, channels: 1, ...o } as BatchOptions);
    await expect(run({ batchSize: 0 })).rejects.toThrow(ValueError);
    await expect(run({ epochs: -1 })).rejects.toThrow(ValueError);
    await expect(run({ hflip: 2 })).rejects.toThrow(ValueError);
    await expect(run({ batchSize: 51, dropLast: true })).rejects.toThrow(/fewer than batchSize/);
    await expect(run({ channels: 2 as 1 })).rejects.toThrow(/channels must be 1 \(gray\) or 3/);
    const n0 = tf.memory().numTensors;
    const ctl = new AbortController();
    let k = 0;
    await expect(
      (async () => {
        for await (const _ of batches(ds, { batchSize: 8, channels: 1, signal: ctl.signal })) if (++k === 2) ctl.abort();
      })(),
    ).rejects.toThrow(AbortError);
    expect(k).toBe(2);
    expect(tf.memory().numTensors).toBe(n0);
  });
});
