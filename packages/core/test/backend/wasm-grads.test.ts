/**
 * Gradients of small training graphs (conv, GroupNorm, attention, embedding/VQ, misc ops,
 * AdamW) on the wasm backend match the cpu backend. Runs single-threaded wasm (the threaded
 * build is exercised in wasm-threads.test.ts; a process can init wasm once).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/index.js';
import { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../../src/backend/wasm-kernels.js';

type Graph = (...xs: tf.Tensor[]) => tf.Scalar;
interface Input {
  shape: number[];
  data: Float32Array | Int32Array;
  dtype: 'float32' | 'int32';
  grad: boolean;
}

// Deterministic inputs (no dependence on tf's RNG so both backends see the same numbers).
function rand(shape: number[], seed: number, scale = 1): Input {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return { shape, data, dtype: 'float32', grad: true };
}
function ints(shape: number[], values: number[]): Input {
  return { shape, data: Int32Array.from(values), dtype: 'int32', grad: false };
}
function _constant(inp: Input): Input {
  return { ...inp, grad: false };
}

async function run(backend: string, f: Graph, inputs: Input[]): Promise<{ value: number; grads: Float32Array[] }> {
  await tf.setBackend(backend);
  const ts = inputs.map((i) => tf.tensor(i.data, i.shape, i.dtype));
  const gi = inputs.map((i, k) => (i.grad ? k : -1)).filter((k) => k >= 0);
  const before = tf.memory().numTensors;
  const { value, grads } = tf.valueAndGrads((...g: tf.Tensor[]) => {
    const all = ts.slice();
    gi.forEach((k, j) => (all[k] = g[j]));
    return f(...all);
  })(gi.map((k) => ts[k]));
  const v = (await value.data())[0];
  const gd = await Promise.all(grads.map(async (g) => Float32Array.from(await g.data())));
  tf.dispose([value, ...grads]);
  expect(tf.memory().numTensors).toBe(before);
  tf.dispose(ts);
  return { value: v, grads: gd };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}

async function compare(name: string, f: Graph, inputs: Input[], rtol = 1e-5): Promise<void> {
  const ref = await run('cpu', f, inputs);
  const got = await run('wasm', f, inputs);
  expect(got.grads.length).toBe(ref.grads.length);
  const rows: string[] = [];
  const vErr = Math.abs(got.value - ref.value) / Math.max(1, Math.abs(ref.value));
  rows.push(`value ${ref.value.toPrecision(6)} relErr=${vErr.toExponential(2)}`);
  expect(vErr).toBeLessThanOrEqual(rtol);
  ref.grads.forEach((r, i) => {
    const g = got.grads[i];
    expect(g.length).toBe(r.length);
    const scale = Math.max(1, maxAbs(r));
    let err = 0;
    for (let j = 0; j < r.length; j++) err = Math.max(err, Math.abs(g[j] - r[j]));
    rows.push(`grad${i} max|ref|=${maxAbs(r).toPrecision(3)} maxAbsErr=${err.toExponential(2)}`);
    expect(maxAbs(r)).toBeGreaterThan(0); // a gradient that is identically zero tests nothing
    expect(err / scale, `${name} grad ${i}`).toBeLessThanOrEqual(rtol);
  });
  console.info(`[wasm vs cpu] ${name}: ${rows.join('; ')}`);
}

const weighted = (y: tf.Tensor, seed: number): tf.Scalar => {
  const r = rand(y.shape, seed);
  return tf.sum(tf.mul(y, tf.tensor(r.data, r.shape)));
};

const stopGradient = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as any) as unknown as (x: tf.Tensor) => tf.Tensor;

function groupNorm(x: tf.Tensor4D, groups: number, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-6): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const xg = tf.reshape(x, [B, H * W, groups, C / groups]);
  const mean = tf.mean(xg, [1, 3], true);
  const variance = tf.mean(tf.square(tf.sub(xg, mean)), [1, 3], true);
  const y = tf.mul(tf.sub(xg, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(tf.reshape(y, [B, H, W, C]), gamma), beta) as tf.Tensor4D;
}
function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-6): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}
function geluTanh(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

describe('wasm training kernels', () => {
  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    const info = await initBackend('wasm', { threads: 1 });
    expect(info.name).toBe('wasm');
  });

  it('registers the kernels the wasm backend lacks, once', () => {
    const have = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
    for (const k of WASM_TRAINING_KERNELS) expect(have.has(k.kernelName)).toBe(true);
    expect(registerWasmTrainingKernels()).toEqual([]);
    // Every gradient-relevant kernel the cpu backend has, wasm now has too.
    const cpu = tf.getKernelsForBackend('cpu').map((k) => k.kernelName);
    const stillMissing = cpu.filter((k) => !have.has(k));
    const notForTraining = new Set([
      'Complex',
      'ComplexAbs',
      'Real',
      'Imag',
      'FFT',
      'IFFT',
      'Draw',
      'RaggedGather',
      'RaggedRange',
      'RaggedTensorToTensor',
      'StaticRegexReplace',
      'Einsum',
    ]);
    expect(stillMissing.filter((k) => !notForTraining.has(k))).toEqual([]);
  });

  it('Conv2DBackpropFilter matches cpu for strides, paddings and NCHW, and frees its intermediates', async () => {
    const cases: { x: number[]; f: number[]; s: number | [number, number]; pad: any; fmt?: 'NHWC' | 'NCHW' }[] = [
      { x: [2, 7, 7, 3], f: [3, 3, 3, 5], s: 1, pad: 'same' },
      { x: [2, 8, 8, 3], f: [3, 3, 3, 4], s: 2, pad: 'same' },
      { x: [1, 9, 8, 2], f: [4, 4, 2, 3], s: 2, pad: 'same' },
      { x: [1, 9, 9, 4], f: [5, 5, 4, 2], s: [2, 1], pad: 'valid' },
      { x: [2, 6, 6, 3], f: [1, 1, 3, 6], s: 1, pad: 'valid' },
      {
        x: [1, 6, 5, 2],
        f: [3, 3, 2, 2],
        s: 1,
        pad: [
          [0, 0],
          [1, 2],
          [2, 0],
          [0, 0],
        ],
      },
      { x: [2, 3, 6, 6], f: [3, 3, 3, 4], s: 1, pad: 'same', fmt: 'NCHW' },
    ];
    for (const c of cases) {
      const fmt = c.fmt ?? 'NHWC';
      const xi = rand(c.x, 11);
      const outShape = tf.backend_util.computeConv2DInfo(
        c.x as [number, number, number, number],
        c.f as [number, number, number, number],
        c.s,
        1,
        c.pad,
        undefined,
        false,
        fmt === 'NHWC' ? 'channelsLast' : 'channelsFirst',
      ).outShape;
      const dyi = rand(outShape, 12);
      const results: Float32Array[] = [];
      for (const b of ['cpu', 'wasm']) {
        await tf.setBackend(b);
        const x = tf.tensor4d(xi.data, xi.shape as any);
        const dy = tf.tensor4d(dyi.data, dyi.shape as any);
        const before = tf.memory().numTensors;
        const ids = (tf.backend() as any).numDataIds();
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
          strides: c.s,
          pad: c.pad,
          dataFormat: fmt,
          dimRoundingMode: undefined,
          filterShape: c.f,
        } as any) as tf.Tensor;
        expect(dw.shape).toEqual(c.f);
        results.push(Float32Array.from(await dw.data()));
        dw.dispose();
        expect(tf.memory().numTensors).toBe(before);
        expect((tf.backend() as any).numDataIds()).toBe(ids);
        tf.dispose([x, dy]);
      }
      let err = 0;
      for (let i = 0; i < results[0].length; i++) err = Math.max(err, Math.abs(results[0][i] - results[1][i]));
      expect(err / Math.max(1, maxAbs(results[0])), JSON.stringify(c)).toBeLessThan(1e-5);
    }
  });

  it('Conv2DBackpropInput (forward conv at stride 1, else XNNPACK product + col2im) matches cpu for strides, paddings and NCHW', async () => {
    const cases: { x: number[]; f: number[]; s: number | [number, number]; pad: any; fmt?: 'NHWC' | 'NCHW' }[] = [
      { x: [2, 7, 7, 3], f: [3, 3, 3, 5], s: 1, pad: 'same' },
      { x: [2, 8, 8, 3], f: [3, 3, 3, 4], s: 2, pad: 'same' },
      { x: [1, 9, 8, 2], f: [4, 4, 2, 3], s: 2, pad: 'same' },
      { x: [1, 9, 9, 4], f: [5, 5, 4, 2], s: [2, 1], pad: 'valid' },
      { x: [2, 6, 6, 3], f: [1, 1, 3, 6], s: 1, pad: 'valid' },
      {
        x: [1, 6, 5, 2],
        f: [3, 3, 2, 2],
        s: 1,
        pad: [
          [0, 0],
          [1, 2],
          [2, 0],
          [0, 0],
        ],
      },
      { x: [2, 3, 6, 6], f: [3, 3, 3, 4], s: 1, pad: 'same', fmt: 'NCHW' },
    ];
    for (const c of cases) {
      const fmt = c.fmt ?? 'NHWC';
      const outShape = tf.backend_util.computeConv2DInfo(
        c.x as [number, number, number, number],
        c.f as [number, number, number, number],
        c.s,
        1,
        c.pad,
        undefined,
        false,
        fmt === 'NHWC' ? 'channelsLast' : 'channelsFirst',
      ).outShape;
      const dyi = rand(outShape, 31);
      const wi = rand(c.f, 32);
      const results: Float32Array[] = [];
      for (const b of ['cpu', 'wasm']) {
        await tf.setBackend(b);
        const dy = tf.tensor(dyi.data, dyi.shape);
        const w = tf.tensor(wi.data, wi.shape);
        const before = tf.memory().numTensors;
        const ids = (tf.backend() as any).numDataIds();
        const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, {
          strides: c.s,
          pad: c.pad,
          dataFormat: fmt,
          dimRoundingMode: undefined,
          inputShape: c.x,
        } as any) as tf.Tensor;
        expect(dx.shape).toEqual(c.x);
        results.push(Float32Array.from(await dx.data()));
        dx.dispose();
        expect(tf.memory().numTensors).toBe(before);
        expect((tf.backend() as any).numDataIds()).toBe(ids);
        tf.dispose([dy, w]);
      }
      let err = 0;
      for (let i = 0; i < results[0].length; i++) err = Math.max(err, Math.abs(results[0][i] - results[1][i]));
      expect(maxAbs(results[0])).toBeGreaterThan(0);
      expect(err / Math.max(1, maxAbs(results[0])), JSON.stringify(c)).toBeLessThan(1e-5);
    }
  });

  it('BatchMatMul with transposes, batches and broadcasting matches cpu', async () => {
    const cases: { a: number[]; b: number[]; tA: boolean; tB: boolean }[] = [
      { a: [40, 30], b: [30, 20], tA: false, tB: false },
      { a: [30, 40], b: [30, 20], tA: true, tB: false },
      { a: [40, 30], b: [20, 30], tA: false, tB: true },
      { a: [30, 40], b: [20, 30], tA: true, tB: true },
      { a: [8, 300], b: [200, 300], tA: false, tB: true }, // few rows: computed as (b·aᵀ)ᵀ
      { a: [1, 64, 96], b: [1, 150, 96], tA: false, tB: true }, // the same at the row limit, batch 1
      { a: [6, 40, 32], b: [6, 32, 24], tA: false, tB: false }, // small items: tfjs's loop
      { a: [2, 2, 130, 64], b: [2, 2, 130, 64], tA: false, tB: true }, // attention q·kᵀ, item by item
      { a: [3, 64, 130], b: [3, 64, 128], tA: true, tB: false },
      { a: [5, 40, 32], b: [32, 24], tA: false, tB: false }, // b broadcast
      { a: [5, 40, 32], b: [1, 24, 32], tA: false, tB: true },
      { a: [40, 32], b: [5, 32, 24], tA: false, tB: false }, // a broadcast
      { a: [32, 40], b: [5, 24, 32], tA: true, tB: true },
      { a: [3, 4, 5], b: [3, 5, 2], tA: false, tB: false }, // tiny: stays on tfjs's loop
    ];
    for (const c of cases) {
      const ai = rand(c.a, 41);
      const bi = rand(c.b, 42);
      const results: { data: Float32Array; shape: number[] }[] = [];
      for (const be of ['cpu', 'wasm']) {
        await tf.setBackend(be);
        const a = tf.tensor(ai.data, ai.shape);
        const b = tf.tensor(bi.data, bi.shape);
        const before = tf.memory().numTensors;
        const ids = (tf.backend() as any).numDataIds();
        const y = tf.matMul(a, b, c.tA, c.tB);
        results.push({ data: Float32Array.from(await y.data()), shape: y.shape });
        y.dispose();
        expect(tf.memory().numTensors).toBe(before);
        expect((tf.backend() as any).numDataIds()).toBe(ids);
        tf.dispose([a, b]);
      }
      expect(results[1].shape, JSON.stringify(c)).toEqual(results[0].shape);
      let err = 0;
      for (let i = 0; i < results[0].data.length; i++) err = Math.max(err, Math.abs(results[0].data[i] - results[1].data[i]));
      expect(err / Math.max(1, maxAbs(results[0].data)), JSON.stringify(c)).toBeLessThan(1e-5);
    }
  });

  it('UnsortedSegmentSum matches cpu (repeated, out-of-range and 2-D ids; int32 data)', async () => {
    const cases = [
      { x: rand([6, 4], 3), ids: ints([6], [0, 2, 2, 5, 0, 1]), n: 6 },
      { x: rand([5, 2, 3], 4), ids: ints([5], [4, -1, 1, 7, 1]), n: 5 },
      { x: rand([2, 3, 4], 5), ids: ints([2, 3], [0, 1, 0, 2, 2, 1]), n: 3 },
      { x: ints([4, 2], [1, 2, 3, 4, 5, 6, 7, 8]), ids: ints([4], [1, 1, 0, 1]), n: 2 },
    ];
    for (const c of cases) {
      const res: number[][] = [];
      for (const b of c.ids.shape.length === 1 ? ['cpu', 'wasm'] : ['wasm']) {
        await tf.setBackend(b);
        const x = tf.tensor(c.x.data, c.x.shape, c.x.dtype);
        const ids = tf.tensor(c.ids.data, c.ids.shape, 'int32');
        const y = tf.engine().runKernel('UnsortedSegmentSum', { x, segmentIds: ids }, { numSegments: c.n }) as tf.Tensor;
        expect(y.shape).toEqual([c.n, ...c.x.shape.slice(c.ids.shape.length)]);
        if (b === 'wasm') expect(y.dtype).toBe(c.x.dtype);
        res.push(Array.from(await y.data()));
        tf.dispose([x, ids, y]);
      }
      // cpu's kernel only supports 1-D ids; for 2-D compare with the flattened equivalent.
      if (c.ids.shape.length === 1) {
        res[1].forEach((v, i) => expect(v).toBeCloseTo(res[0][i], 5));
      } else {
        const inner = c.x.shape.slice(c.ids.shape.length).reduce((a, b) => a * b, 1);
        const want = new Array(c.n * inner).fill(0);
        c.ids.data.forEach((s, r) => {
          for (let j = 0; j < inner; j++) want[s * inner + j] += c.x.data[r * inner + j];
        });
        res[0].forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
      }
    }
  });

  it('depthwise conv gradients match cpu', async () => {
    await compare('depthwiseConv2d', (x, w) => weighted(tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same'), 7), [
      rand([2, 7, 7, 3], 1),
      rand([3, 3, 3, 2], 2),
    ]);
  });

  it('conv block (conv2d stride 1/2, bias, GroupNorm, SiLU, residual) gradients match cpu', async () => {
    await compare(
      'conv block',
      (x, w1, b1, g, be, w2) => {
        const h = tf.add(tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same'), b1) as tf.Tensor4D;
        const n = groupNorm(h, 4, g, be);
        const s = tf.mul(n, tf.sigmoid(n)) as tf.Tensor4D;
        const d = tf.conv2d(tf.add(s, h) as tf.Tensor4D, w2 as tf.Tensor4D, 2, 'same');
        return weighted(d, 9);
      },
      [rand([2, 8, 8, 4], 1), rand([3, 3, 4, 8], 2, 0.3), rand([8], 3), rand([8], 4), rand([8], 5), rand([3, 3, 8, 6], 6, 0.3)],
    );
  });

  it('attention block (LayerNorm, batched matMul, causal softmax, gelu-tanh, logSoftmax CE) gradients match cpu', async () => {
    const B = 2,
      L = 5,
      C = 8,
      Hh = 2,
      V = 7;
    const labels = ints([B * L], [0, 3, 6, 2, 2, 1, 5, 4, 0, 6]);
    const mask = tf.tidy(() => tf.linalg.bandPart(tf.ones([L, L]), -1, 0));
    const maskData = { shape: [L, L], data: (await mask.data()) as Float32Array, dtype: 'float32' as const, grad: false };
    mask.dispose();
    await compare(
      'attention',
      (x, g, be, wqkv, wo, w1, w2, head, lab, m) => {
        const h = layerNorm(x, g, be);
        const qkv = tf.reshape(tf.matMul(tf.reshape(h, [B * L, C]), wqkv), [B, L, 3, Hh, C / Hh]);
        const [q, k, v] = tf.split(tf.transpose(qkv, [2, 0, 3, 1, 4]), 3, 0).map((t) => tf.reshape(t, [B, Hh, L, C / Hh]));
        let att = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(C / Hh));
        att = tf.where(tf.cast(m, 'bool'), att, tf.fill(att.shape, -1e9));
        const o = tf.reshape(tf.transpose(tf.matMul(tf.softmax(att), v), [0, 2, 1, 3]), [B * L, C]);
        const r = tf.add(tf.reshape(x, [B * L, C]), tf.matMul(o, wo));
        const f = tf.add(r, tf.matMul(geluTanh(tf.matMul(r, w1)), w2));
        const logits = tf.matMul(f, head);
        const lp = tf.logSoftmax(logits);
        return tf.neg(tf.mean(tf.sum(tf.mul(lp, tf.oneHot(lab as tf.Tensor1D, V)), -1))) as tf.Scalar;
      },
      [
        rand([B, L, C], 1),
        rand([C], 2),
        rand([C], 3),
        rand([C, 3 * C], 4, 0.4),
        rand([C, C], 5, 0.4),
        rand([C, 4 * C], 6, 0.4),
        rand([4 * C, C], 7, 0.3),
        rand([C, V], 8, 0.5),
        labels,
        maskData,
      ],
    );
  });

  it('embedding / VQ (gather, gatherND, argMin, oneHot, straight-through) gradients match cpu', async () => {
    await compare(
      'embedding+vq',
      (table, ids, z, codebook, idx) => {
        const e = tf.gather(table, ids as tf.Tensor2D); // (2, 7, 6) with repeated ids
        const g2 = tf.gatherND(table, idx);
        const zz = tf.reshape(z, [-1, 6]);
        const d = tf.add(
          tf.sub(tf.sum(tf.square(zz), 1, true), tf.mul(2, tf.matMul(zz, codebook, false, true))),
          tf.sum(tf.square(codebook), 1),
        );
        const code = tf.argMin(d, 1);
        const q = tf.matMul(tf.oneHot(code, 5), codebook);
        const qst = tf.add(zz, stopGradient(tf.sub(q, zz)));
        const commit = tf.mean(tf.square(tf.sub(stopGradient(q), zz)));
        const cbl = tf.mean(tf.square(tf.sub(q, stopGradient(zz))));
        return tf.addN([weighted(e, 3), weighted(g2, 4), weighted(qst, 5), commit, cbl]) as tf.Scalar;
      },
      [
        rand([9, 6], 1),
        ints([2, 7], [1, 3, 3, 8, 0, 1, 1, 4, 4, 4, 2, 8, 7, 0]),
        rand([2, 4, 6], 2),
        rand([5, 6], 3),
        ints([3, 1], [2, 2, 6]),
      ],
    );
  });

  it('misc ops (pad, slice, concat, transpose, resize-by-matMul, clip, max/mean/sum, exp/log, sqrt, where) gradients match cpu', async () => {
    const up = (n: number, m: number): Input => {
      // nearest-neighbour upsampling matrix (m, n)
      const data = new Float32Array(m * n);
      for (let i = 0; i < m; i++) data[i * n + Math.floor((i * n) / m)] = 1;
      return { shape: [m, n], data, dtype: 'float32', grad: false };
    };
    await compare(
      'misc',
      (x, y, R) => {
        const p = tf.pad(x, [
          [0, 0],
          [1, 2],
          [2, 1],
          [0, 0],
        ]);
        const s = tf.slice(p, [0, 1, 0, 0], [-1, 5, 6, -1]);
        const c = tf.concat([s, tf.reverse(s, 2)], 3);
        const r = tf.transpose(tf.matMul(R, tf.reshape(tf.transpose(c, [1, 0, 2, 3]), [5, -1])), [1, 0]);
        const clipped = tf.clipByValue(r, -0.5, 0.7);
        const m = tf.max(tf.reshape(y, [3, 4]), 1);
        const e = tf.log(tf.add(tf.exp(y), 1));
        const sq = tf.sqrt(tf.add(tf.square(y), 0.1));
        const w = tf.where(tf.greater(y, 0), y, tf.mul(y, 0.1));
        return tf.addN([
          weighted(clipped, 2),
          weighted(m, 3),
          tf.mean(e),
          weighted(sq, 4),
          weighted(w, 5),
          tf.sum(tf.square(x)),
        ]) as tf.Scalar;
      },
      [rand([2, 4, 3, 2], 1), rand([12], 2), up(5, 8)],
    );
  });

  it('more ops used by the tokenizer/transformer (tile, stack, maximum/minimum, avgPool, norm, squaredDifference, abs, min, split) match cpu', async () => {
    await compare(
      'more ops',
      (x, y) => {
        const x4 = x as tf.Tensor4D;
        const t = tf.tile(tf.reshape(y, [1, 12]), [2, 1]);
        const st = tf.stack([tf.maximum(y, 0.1), tf.minimum(y, -0.2), tf.abs(y)], 1);
        const ap = tf.avgPool(x4, 2, 2, 'valid');
        const n = tf.norm(tf.reshape(x, [-1, 2]), 'euclidean', 1);
        const sd = tf.squaredDifference(tf.slice(y, [0], [6]), tf.slice(y, [6], [6]));
        const [p1, p2] = tf.split(y, [5, 7]);
        return tf.addN([
          weighted(t, 11),
          weighted(st, 12),
          weighted(ap, 13),
          weighted(n, 15),
          tf.sum(sd),
          tf.min(p1),
          weighted(p2, 16),
        ]) as tf.Scalar;
      },
      [rand([2, 4, 3, 2], 7), rand([12], 8)],
    );
  });

  it('tf.train.adam steps on variables give the same parameters on wasm and cpu', async () => {
    const init = rand([6, 4], 21);
    const xin = rand([5, 6], 22);
    const out: Float32Array[] = [];
    for (const b of ['cpu', 'wasm']) {
      await tf.setBackend(b);
      const before = tf.memory().numTensors;
      const w0 = tf.tensor(init.data, init.shape);
      const w = tf.variable(w0);
      w0.dispose();
      const x = tf.tensor(xin.data, xin.shape);
      const opt = tf.train.adam(0.01, 0.9, 0.95, 1e-8);
      for (let i = 0; i < 3; i++) opt.minimize(() => tf.mean(tf.square(tf.tanh(tf.matMul(x, w)))) as tf.Scalar);
      out.push(Float32Array.from(await w.data()));
      opt.dispose();
      tf.dispose([w, x]);
      expect(tf.memory().numTensors).toBe(before);
    }
    let err = 0;
    let moved = 0;
    for (let i = 0; i < out[0].length; i++) {
      err = Math.max(err, Math.abs(out[0][i] - out[1][i]));
      moved = Math.max(moved, Math.abs(out[0][i] - init.data[i]));
    }
    expect(moved).toBeGreaterThan(1e-3);
    expect(err).toBeLessThan(1e-6);
  });

  it('AdamW steps give the same parameters on wasm and cpu', async () => {
    const p0 = rand([4, 5], 1);
    const steps = 3;
    const out: Float32Array[] = [];
    for (const b of ['cpu', 'wasm']) {
      await tf.setBackend(b);
      const before = tf.memory().numTensors;
      const x = tf.tensor(rand([3, 4], 2).data, [3, 4]);
      let p = tf.tensor(p0.data, p0.shape);
      let m = tf.zerosLike(p);
      let v = tf.zerosLike(p);
      const [b1, b2, lr, eps, wd] = [0.9, 0.95, 1e-2, 1e-8, 0.05];
      for (let t = 1; t <= steps; t++) {
        const next = tf.tidy(() => {
          const g = tf.grad((q: tf.Tensor) => tf.sum(tf.square(tf.tanh(tf.matMul(x, q)))))(p);
          const m2 = tf.add(tf.mul(b1, m), tf.mul(1 - b1, g));
          const v2 = tf.add(tf.mul(b2, v), tf.mul(1 - b2, tf.square(g)));
          const mh = tf.div(m2, 1 - b1 ** t);
          const vh = tf.div(v2, 1 - b2 ** t);
          const p2 = tf.sub(tf.mul(p, 1 - lr * wd), tf.mul(lr, tf.div(mh, tf.add(tf.sqrt(vh), eps))));
          return [p2, m2, v2];
        });
        tf.dispose([p, m, v]);
        [p, m, v] = next;
      }
      out.push(Float32Array.from(await p.data()));
      tf.dispose([x, p, m, v]);
      expect(tf.memory().numTensors).toBe(before);
    }
    let err = 0;
    let moved = 0;
    for (let i = 0; i < out[0].length; i++) {
      err = Math.max(err, Math.abs(out[0][i] - out[1][i]));
      moved = Math.max(moved, Math.abs(out[0][i] - p0.data[i]));
    }
    expect(moved).toBeGreaterThan(1e-3);
    expect(err).toBeLessThan(1e-6);
  });
});
