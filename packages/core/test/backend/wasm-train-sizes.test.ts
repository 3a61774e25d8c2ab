/**
 * The wasm gradient kernels of registerWasmTrainingKernels (conv backprops as forward
 * convolutions, AvgPoolGrad as nearest upsampling, BatchMatMul with transposes) against the
 * definition: tf.grad of the same plain ops on the cpu backend, at the sizes the MNIST models
 * train at (the tokenizer's conv2d layers at batch 8; the VAR d4 w128 B16 L=130 products) and
 * for the edge cases of each formulation. These kernels replaced the model packages' custom
 * gradients (tokenizer conv, transformer matMul) and @var/train's registerFastConvGradients.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { beforeAll, describe, expect, it } from 'vitest';
import { yieldToEventLoop } from '@var/test-helpers';
import { initBackend } from '../../src/index.js';

function rand(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
}
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const zeros4 = (shape: number[]): tf.Tensor4D => tf.reshape(tf.zeros([size(shape)]), shape as [number, number, number, number]);

/** Gradients of sum(f(inputs) · dy) w.r.t. every input, on `backend`; checks that nothing leaks. */
async function gradsOn(
  backend: string,
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  shapes: number[][],
  outShape: number[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  await yieldToEventLoop(); // the cpu oracle at these sizes computes for seconds per call (vitest's RPC waits at most 60 s)
  const xs = shapes.map((s, i) => tf.tensor(rand(size(s), 101 + i), s));
  const dy = tf.tensor(rand(size(outShape), 7), outShape);
  const before = tf.memory().numTensors;
  const gs = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), dy)))(xs);
  const out = await Promise.all(gs.map(async (g) => Float32Array.from(await g.data())));
  tf.dispose(gs);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose([...xs, dy]);
  return out;
}

/** max |wasm − cpu| relative to max |cpu| over every gradient. */
async function relErr(f: (...xs: tf.Tensor[]) => tf.Tensor, shapes: number[][], outShape: number[]): Promise<number> {
  const ref = await gradsOn('cpu', f, shapes, outShape);
  const got = await gradsOn('wasm', f, shapes, outShape);
  let worst = 0;
  ref.forEach((r, k) => {
    expect(got[k].length).toBe(r.length);
    let scale = 1e-6;
    let e = 0;
    for (let i = 0; i < r.length; i++) {
      scale = Math.max(scale, Math.abs(r[i]));
      e = Math.max(e, Math.abs(got[k][i] - r[i]));
    }
    worst = Math.max(worst, e / scale);
  });
  return worst;
}

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
const explicit = (t: number, b: number, l: number, r: number): Pad => [
  [0, 0],
  [t, b],
  [l, r],
  [0, 0],
];

describe('wasm gradient kernels at training sizes (cpu tf.grad as the oracle)', () => {
  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    expect((await initBackend('wasm', { threads: 1 })).name).toBe('wasm');
  });

  it('conv2d gradients (input, filter, bias) of the MNIST tokenizer layers at batch 8 match cpu', async () => {
    // [x shape, kernel, out channels, stride, padding] as VQVAE ch 32, chMult [1,2,2], 32 px, 1 channel uses them
    const layers: [number[], number, number, number, Pad][] = [
      [[8, 32, 32, 1], 3, 32, 1, 'same'], // conv_in
      [[8, 32, 32, 32], 3, 32, 1, 'same'], // level-0 resnet conv
      [[8, 33, 33, 32], 3, 32, 2, 'valid'], // downsample (padded right/bottom by one)
      [[8, 16, 16, 32], 1, 64, 1, 'valid'], // nin_shortcut
      [[8, 16, 16, 64], 3, 64, 1, 'same'],
      [[8, 17, 17, 64], 3, 64, 2, 'valid'],
      [[8, 8, 8, 64], 3, 8, 1, 'same'], // conv_out to zChannels
      [[8, 32, 32, 32], 3, 1, 1, 'same'], // decoder conv_out
    ];
    for (const [xs, k, co, s, pad] of layers) {
      const wShape = [k, k, xs[3], co];
      const out = tf.tidy(() => tf.conv2d(zeros4(xs), zeros4(wShape), s, pad).shape);
      const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        tf.fused.conv2d({ x: x as tf.Tensor4D, filter: w as tf.Tensor4D, strides: s, pad, bias: b });
      const err = await relErr(f, [xs, wShape, [co]], out);
      expect(err, `${JSON.stringify(xs)} k${k}→${co} s${s}`).toBeLessThan(1e-5);
    }
  });

  it('conv2d gradients match cpu for the edge cases of the forward-conv formulations (paddings, strides, 1×1, uneven windows)', async () => {
    const cases: [number[], number[], number | [number, number], Pad][] = [
      [[2, 7, 6, 3], [3, 3, 3, 5], 1, 'same'],
      [[2, 8, 8, 4], [3, 3, 4, 2], 2, explicit(0, 1, 0, 1)],
      [[3, 9, 7, 2], [3, 2, 2, 3], 2, 'valid'],
      [[1, 5, 5, 3], [1, 1, 3, 4], 1, 'valid'],
      [[2, 6, 6, 2], [3, 3, 2, 2], 1, 'valid'],
      [[1, 9, 8, 2], [4, 4, 2, 3], 2, 'same'],
      [[1, 9, 9, 4], [5, 5, 4, 2], [2, 1], 'valid'],
      [[1, 6, 5, 2], [3, 3, 2, 2], 1, explicit(1, 2, 2, 0)],
    ];
    for (const [xs, ws, s, pad] of cases) {
      const out = tf.tidy(() => tf.conv2d(zeros4(xs), zeros4(ws), s, pad).shape);
      const err = await relErr((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, s, pad), [xs, ws], out);
      expect(err, `${JSON.stringify(xs)} ${JSON.stringify(ws)} s${s}`).toBeLessThan(1e-5);
    }
  });

  it('avgPool gradients (non-overlapping with leftover rows, global pools, and an overlapping fallback) match cpu', async () => {
    const cases: [number[], [number, number], [number, number]][] = [
      [
        [2, 8, 8, 3],
        [2, 2],
        [2, 2],
      ],
      [
        [1, 9, 7, 2],
        [2, 2],
        [2, 2],
      ],
      [
        [2, 12, 12, 1],
        [4, 4],
        [4, 4],
      ],
      [
        [8, 32, 32, 32],
        [32, 32],
        [32, 32],
      ], // the tokenizer's GroupNorm statistics
      [
        [2, 7, 7, 2],
        [3, 3],
        [2, 2],
      ], // overlapping: tfjs' own kernel
    ];
    for (const [xs, k, s] of cases) {
      const out = tf.tidy(() => tf.avgPool(zeros4(xs), k, s, 'valid').shape);
      const err = await relErr((x) => tf.avgPool(x as tf.Tensor4D, k, s, 'valid'), [xs], out);
      expect(err, JSON.stringify([xs, k, s])).toBeLessThan(1e-6);
    }
  });

  it('matMul gradients of the MNIST VAR (d4 w128 B16 L=130: linear layers and per-head attention) match cpu', async () => {
    const cases: [number, number, number][] = [
      [2080, 128, 384], // qkv
      [2080, 512, 128], // fc2
      [16, 128, 768], // ada_lin
      [130, 32, 130], // q kᵀ per head
      [130, 130, 32], // softmax · v
    ];
    for (const [M, K, N] of cases) {
      const err = await relErr(
        (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
        [
          [M, K],
          [K, N],
        ],
        [M, N],
      );
      expect(err, `${M}×${K}×${N}`).toBeLessThan(1e-5);
    }
    // the official batched attention product (B·H batches, transposeB)
    const err = await relErr(
      (q, k) => tf.matMul(q, k, false, true),
      [
        [64, 130, 32],
        [64, 130, 32],
      ],
      [64, 130, 130],
    );
    expect(err).toBeLessThan(1e-5);
  });
});
