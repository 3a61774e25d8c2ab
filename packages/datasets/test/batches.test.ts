/** @var/data's batching over the real sets: MNIST padded to 32, emoji decoded lazily to RGB at a smaller size. */
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { batches, subset } from '@var/data';
import { emojiDataset, mnistDataset } from '@var/datasets';

beforeAll(async () => {
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
});

describe('batches of the real sets', () => {
  it('MNIST padded to 32: (B, 1, 32, 32) in [-1, 1], black border, labels of the digits; nothing leaked', async () => {
    const ds = subset(
      await mnistDataset({ padTo: 32 }),
      Array.from({ length: 20 }, (_, i) => i * 500),
    );
    const n0 = tf.memory().numTensors;
    let seen = 0;
    for await (const b of batches(ds, { batchSize: 8, channels: 1, shuffle: false })) {
      expect(b.images.shape).toEqual([b.indices.length, 1, 32, 32]);
      expect(Array.from(b.labels)).toEqual(Array.from(b.indices, (i) => ds.labels[i]));
      const v = b.images.dataSync();
      expect(Math.min(...v)).toBe(-1);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
      expect(Math.max(...v)).toBeGreaterThan(0.9); // digits have white strokes
      expect(Array.from(v.subarray(0, 64)).every((x) => x === -1)).toBe(true); // padded rows
      seen += b.indices.length;
    }
    expect(seen).toBe(20);
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('decodes emoji lazily to RGB at a smaller size', async () => {
    const emoji = await emojiDataset();
    const few = subset(emoji, [0, 100, 200, 300, 400, 500]);
    const n0 = tf.memory().numTensors;
    const shapes: number[][] = [];
    for await (const b of batches(few, { batchSize: 4, channels: 3, size: 32, seed: 0 })) {
      shapes.push(b.images.shape);
      const v = b.images.dataSync();
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-1);
      expect(Math.max(...v)).toBeLessThanOrEqual(1);
    }
    expect(shapes).toEqual([
      [4, 3, 32, 32],
      [2, 3, 32, 32],
    ]);
    expect(tf.memory().numTensors).toBe(n0);
  });
});
