/**
 * The shipped digit-classifier weights reach >= 99% on the held-out MNIST digits (every
 * 5th digit of each class of the `mnist` package, never used in training; see
 * scripts/mnist-data.mjs).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { loadMnistSplit } from '../scripts/mnist-data.mjs';
import { DIGIT_CLASSIFIER_WEIGHTS_URL, DigitClassifier } from '../src/digit-classifier.js';
import { computeStatsFromImages } from '../src/extractor.js';
import { CheckpointError, ShapeError } from '../src/errors.js';
import { fidFromStats } from '../src/fid.js';
import { inceptionScore } from '../src/inception-score.js';

const { train, test } = loadMnistSplit();
let model: DigitClassifier;

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  model = await DigitClassifier.load();
});

function* batches(images: Float32Array, n: number, bs = 500) {
  for (let s = 0; s < n; s += bs) {
    const b = Math.min(bs, n - s);
    yield tf.tensor4d(images.subarray(s * 784, (s + b) * 784), [b, 1, 28, 28]);
  }
}

async function accuracy(images: Float32Array, labels: Int32Array, n: number, px: number) {
  let correct = 0;
  let offset = 0;
  for (const x28 of batches(images, n)) {
    const x =
      px === 28
        ? x28
        : tf.tidy(
            () =>
              tf.transpose(
                tf.image.resizeBilinear(tf.transpose(x28, [0, 2, 3, 1]) as tf.Tensor4D, [px, px], false, true),
                [0, 3, 1, 2],
              ) as tf.Tensor4D,
          );
    const pred = await model.predict(x);
    pred.forEach((p, i) => (correct += p === labels[offset + i] ? 1 : 0));
    offset += pred.length;
    tf.dispose(px === 28 ? [x28] : [x28, x]);
  }
  return correct / n;
}

describe('DigitClassifier (shipped weights)', () => {
  it('held-out split: about 2,000 digits of every class', () => {
    expect(test.n).toBeGreaterThan(1900);
    expect(train.n + test.n).toBe(10000);
    for (let d = 0; d < 10; d++) expect(test.labels.filter((l) => l === d).length).toBeGreaterThan(150);
  });

  it('>= 99% accuracy on the held-out digits at 28 px', async () => {
    const acc = await accuracy(test.images, test.labels, test.n, 28);
    console.log(`digit classifier held-out accuracy (28 px): ${(acc * 100).toFixed(2)}%`);
    expect(acc).toBeGreaterThanOrEqual(0.99);
  });

  it('accepts 32 px digits (resized internally to 28)', async () => {
    const acc = await accuracy(test.images, test.labels, test.n, 32);
    console.log(`digit classifier held-out accuracy (32 px input): ${(acc * 100).toFixed(2)}%`);
    expect(acc).toBeGreaterThanOrEqual(0.98);
  });

  it("fit 'center-crop': digits padded 28 → 32 give exactly the logits of the 28-px digits", async () => {
    const cropper = await DigitClassifier.load(undefined, { fit: 'center-crop' });
    expect(cropper.fit).toBe('center-crop');
    const x28 = tf.tensor4d(test.images.subarray(0, 50 * 784), [50, 1, 28, 28]);
    const x32 = tf.pad(
      x28,
      [
        [0, 0],
        [0, 0],
        [2, 2],
        [2, 2],
      ],
      -1,
    ) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const a = model.forward(x28);
    const b = cropper.forward(x32);
    const r = model.forward(x32); // resized: different (smaller digit)
    const [la, lb, lr] = await Promise.all([a.logits.data(), b.logits.data(), r.logits.data()]);
    expect(Array.from(lb)).toEqual(Array.from(la));
    expect(Array.from(lr)).not.toEqual(Array.from(la));
    tf.dispose([a.features, a.logits, b.features, b.logits, r.features, r.logits]);
    expect(tf.memory().numTensors).toBe(before);
    const small = tf.zeros([1, 1, 20, 20]) as tf.Tensor4D;
    expect(() => cropper.forward(small)).toThrow(ShapeError);
    await expect(DigitClassifier.load(undefined, { fit: 'stretch' as never })).rejects.toThrow(/fit must be/);
    tf.dispose([x28, x32, small]);
    cropper.dispose();
  });

  it('features 128-d, logits 10, no leaked tensors; FID real-vs-real small, digit IS near 10', async () => {
    const x = tf.tensor4d(test.images.subarray(0, 4 * 784), [4, 1, 28, 28]);
    const before = tf.memory().numTensors;
    const out = await model.extract(x);
    expect(tf.memory().numTensors).toBe(before);
    expect(out.features.length).toBe(4 * 128);
    expect(out.logits!.length).toBe(4 * 10);
    x.dispose();
    expect(() => model.forward(tf.zeros([1, 3, 28, 28]) as tf.Tensor4D)).toThrow(ShapeError);

    // held-out digits vs every 4th training digit (2,000, all classes)
    const sub = new Float32Array(2000 * 784);
    for (let i = 0; i < 2000; i++) sub.set(train.images.subarray(4 * i * 784, (4 * i + 1) * 784), i * 784);
    const a = await computeStatsFromImages(model, batches(test.images, test.n), { collectLogits: true, disposeBatches: true });
    const b = await computeStatsFromImages(model, batches(sub, 2000), { disposeBatches: true });
    const fid = fidFromStats(a.stats, b.stats).fid;
    // one split: the held-out digits are ordered by class, so consecutive blocks hold one class each
    const is = inceptionScore({ data: a.logits!, n: a.count, d: 10 }, { splits: 1 });
    console.log(
      `digit FID(held-out, 2000 training digits) = ${fid.toFixed(3)}; digit IS(held-out) = ${is.mean.toFixed(3)} ± ${is.std.toFixed(3)}`,
    );
    expect(fid).toBeGreaterThanOrEqual(0);
    expect(is.mean).toBeGreaterThan(8);
    expect(is.mean).toBeLessThanOrEqual(10);
  });

  it('clear errors for a missing or wrong weights file', async () => {
    await expect(DigitClassifier.load('/nonexistent/digit.safetensors')).rejects.toThrow(CheckpointError);
    const bytes = readFileSync(DIGIT_CLASSIFIER_WEIGHTS_URL); // a Node Buffer
    await expect(DigitClassifier.load(bytes.subarray(0, 100))).rejects.toThrow(CheckpointError);
    // loading from bytes gives the same model as loading from the URL
    const fromBytes = await DigitClassifier.load(bytes);
    const x = tf.tensor4d(test.images.subarray(0, 50 * 784), [50, 1, 28, 28]);
    expect(await fromBytes.predict(x)).toEqual(await model.predict(x));
    const [a, b] = [await fromBytes.extract(x), await model.extract(x)];
    expect(a.features).toEqual(b.features);
    x.dispose();
    fromBytes.dispose();
  });
});
