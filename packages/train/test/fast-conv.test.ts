import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { ensureGradients, initBackend } from '@var/core';
import { registerFastConvGradients } from '../src/index.js';

type Case = {
  x: number[];
  w: number[];
  s: number;
  pad: 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
};
const cases: Case[] = [
  { x: [2, 7, 6, 3], w: [3, 3, 3, 5], s: 1, pad: 'same' },
  {
    x: [2, 8, 8, 4],
    w: [3, 3, 4, 2],
    s: 2,
    pad: [
      [0, 0],
      [0, 1],
      [0, 1],
      [0, 0],
    ],
  },
  { x: [3, 9, 7, 2], w: [3, 2, 2, 3], s: 2, pad: 'valid' },
  { x: [1, 5, 5, 3], w: [1, 1, 3, 4], s: 1, pad: 'valid' },
  { x: [2, 6, 6, 2], w: [3, 3, 2, 2], s: 1, pad: 'valid' },
];

function grads(c: Case, xd: Float32Array, wd: Float32Array, dyd: (shape: number[]) => Float32Array) {
  return tf.tidy(() => {
    const x = tf.tensor4d(xd, c.x as [number, number, number, number]);
    const w = tf.tensor4d(wd, c.w as [number, number, number, number]);
    const y = tf.conv2d(x, w, c.s, c.pad as never);
    const dy = tf.tensor(dyd(y.shape), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad as never), dy)),
    );
    return g([x, w]).map((t) => Array.from(t.dataSync()));
  });
}

describe('registerFastConvGradients', () => {
  it('matches the cpu gradients for strides, paddings and kernel sizes, and frees its intermediates', async () => {
    const rand = (n: number, seed: number) => {
      let s = seed;
      return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
    };
    await ensureGradients();
    const results: number[][][] = [];
    for (const backend of ['cpu', 'wasm']) {
      if (backend === 'wasm') {
        await initBackend('wasm', { threads: 1 });
        expect(registerFastConvGradients()).toBe(true);
        expect(registerFastConvGradients()).toBe(true); // idempotent
      } else await tf.setBackend('cpu');
      for (const [i, c] of cases.entries()) {
        const n0 = tf.memory().numTensors;
        results.push(
          grads(
            c,
            rand(
              c.x.reduce((a, b) => a * b),
              i + 1,
            ),
            rand(
              c.w.reduce((a, b) => a * b),
              i + 7,
            ),
            (sh) =>
              rand(
                sh.reduce((a, b) => a * b),
                i + 13,
              ),
          ),
        );
        expect(tf.memory().numTensors).toBe(n0);
      }
    }
    // AvgPoolGrad (filter = stride, valid; also with leftover rows/columns)
    const pools: Array<[number[], number]> = [
      [[2, 8, 8, 3], 2],
      [[1, 9, 7, 2], 2],
      [[2, 12, 12, 1], 4],
    ];
    const poolGrads: number[][] = [];
    for (const backend of ['cpu', 'wasm']) {
      await tf.setBackend(backend);
      for (const [shape, k] of pools) {
        const n0 = tf.memory().numTensors;
        poolGrads.push(
          tf.tidy(() => {
            const x = tf.tensor4d(
              rand(
                shape.reduce((a, b) => a * b),
                3,
              ),
              shape as [number, number, number, number],
            );
            const y = tf.avgPool(x, k, k, 'valid');
            const dy = tf.tensor(rand(y.size, 5), y.shape);
            return Array.from(
              tf
                .grad((a: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(a as tf.Tensor4D, k, k, 'valid'), dy)))(x)
                .dataSync(),
            );
          }),
        );
        expect(tf.memory().numTensors).toBe(n0);
      }
    }
    for (let i = 0; i < pools.length; i++) {
      const err = Math.max(...poolGrads[i + pools.length].map((v, j) => Math.abs(v - poolGrads[i][j])));
      expect(err, `avgPool case ${i}`).toBeLessThan(1e-6);
    }
    for (let i = 0; i < cases.length; i++) {
      const [cpu, wasm] = [results[i], results[i + cases.length]];
      for (let k = 0; k < 2; k++) {
        expect(wasm[k].length).toBe(cpu[k].length);
        const err = Math.max(...wasm[k].map((v, j) => Math.abs(v - cpu[k][j])));
        expect(err, `case ${i} grad ${k}`).toBeLessThan(1e-4);
      }
    }
  });
});
