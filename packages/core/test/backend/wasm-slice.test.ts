/**
 * The wasm Slice / SplitV / Unpack replacements (wasm-kernels.ts: they copy only what they
 * return instead of the whole input) give exactly the values of the original wasm kernels,
 * for contiguous and strided slices of every rank, int32 and bool too, and leak nothing.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureGradients, initBackend } from '../../src/index.js';
import { WASM_FAST_KERNELS } from '../../src/backend/wasm-kernels.js';

/** Reference: the element-wise definition of a slice on the host. */
function refSlice(data: ArrayLike<number>, shape: number[], begin: number[], size: number[]): number[] {
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, v) => a * v, 1));
  const out: number[] = [];
  const n = size.reduce((a, v) => a * v, 1);
  const idx = new Array(size.length).fill(0);
  for (let i = 0; i < n; i++) {
    let off = 0;
    for (let d = 0; d < size.length; d++) off += (begin[d] + idx[d]) * strides[d];
    out.push(data[off]);
    for (let d = size.length - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

let seed = 7;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
});

describe('wasm Slice / SplitV / Unpack replacements', () => {
  it('are registered', () => {
    for (const k of ['Slice', 'SplitV', 'Unpack']) expect(WASM_FAST_KERNELS).toContain(k);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('slice equals the element-wise definition on random shapes (rank 1–5, strided and contiguous)', () => {
    const n0 = tf.memory().numTensors;
    for (let trial = 0; trial < 60; trial++) {
      const rank = 1 + (trial % 5);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(rnd() * 5));
      const begin = shape.map((s) => Math.floor(rnd() * s));
      const size = shape.map((s, d) => (rnd() < 0.4 ? s - begin[d] : 1 + Math.floor(rnd() * (s - begin[d]))));
      const n = shape.reduce((a, v) => a * v, 1);
      const data = Int32Array.from({ length: n }, (_, i) => i * 3 - 7);
      const dtype = trial % 3 === 0 ? 'int32' : 'float32';
      const x = tf.tensor(data, shape, dtype);
      const y = tf.slice(x, begin, size);
      expect(y.shape).toEqual(size);
      expect(Array.from(y.dataSync())).toEqual(refSlice(data, shape, begin, size));
      tf.dispose([x, y]);
    }
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('split along every axis and unstack equal the definition; bool and empty slices work', () => {
    const shape = [3, 4, 5, 2];
    const data = Float32Array.from({ length: 120 }, (_, i) => i + 0.5);
    const x = tf.tensor(data, shape);
    for (let ax = 0; ax < 4; ax++) {
      const parts = tf.split(x, ax === 0 ? [1, 2] : ax === 2 ? [2, 0, 3] : 2, ax);
      let b = 0;
      for (const p of parts) {
        const begin = [0, 0, 0, 0];
        begin[ax] = b;
        expect(Array.from(p.dataSync())).toEqual(refSlice(data, shape, begin, p.shape));
        b += p.shape[ax];
      }
      tf.dispose(parts);
      const un = tf.unstack(x, ax);
      un.forEach((u, i) => {
        const begin = [0, 0, 0, 0];
        begin[ax] = i;
        const size = [...shape];
        size[ax] = 1;
        expect(u.shape).toEqual(shape.filter((_, d) => d !== ax));
        expect(Array.from(u.dataSync())).toEqual(refSlice(data, shape, begin, size));
      });
      tf.dispose(un);
    }
    const m = tf.tensor([true, false, true, true], [2, 2], 'bool');
    const s = tf.slice(m, [0, 1], [2, 1]);
    expect(Array.from(s.dataSync())).toEqual([0, 1]);
    tf.dispose([x, m, s]);
  });

  it('stays correct after the heap grows between slices', () => {
    const x = tf.tensor(
      Float32Array.from({ length: 4096 }, (_, i) => i),
      [64, 64],
    );
    const big = tf.zeros([8 << 20]); // 32 MB: may grow the wasm heap
    const y = tf.slice(x, [10, 3], [5, 7]);
    expect(Array.from(y.dataSync())).toEqual(refSlice(x.dataSync(), [64, 64], [10, 3], [5, 7]));
    tf.dispose([x, big, y]);
  });
});

describe('wasm Identity and same-dtype Cast share memory', () => {
  it('give the input values without a new buffer; the input and the copy outlive each other; gradients still flow', async () => {
    await ensureGradients();
    expect(WASM_FAST_KERNELS).toContain('Identity');
    expect(WASM_FAST_KERNELS).toContain('Cast');
    const be = tf.backend() as unknown as { numDataIds(): number };
    const n0 = tf.memory().numTensors;
    const ids0 = be.numDataIds();
    const x = tf.tensor([1.5, -2, 3], [3]);
    const ids1 = be.numDataIds();
    const c = tf.clone(x);
    const s = tf.cast(x, 'float32');
    expect(be.numDataIds(), 'no new buffer').toBe(ids1);
    x.dispose(); // the shared memory lives on with c and s
    expect(Array.from(c.dataSync())).toEqual([1.5, -2, 3]);
    c.dispose();
    expect(Array.from(s.dataSync())).toEqual([1.5, -2, 3]);
    // a Cast to another dtype still converts (and makes a buffer)
    const i = tf.cast(s, 'int32');
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.dataSync())).toEqual([1, -2, 3]);
    tf.tidy(() => {
      const b = tf.cast(tf.tensor([0, 2, -3], [3], 'int32'), 'bool');
      const bf = tf.cast(tf.tensor([0, 0.5, Number.NaN], [3]), 'bool');
      expect(Array.from(b.dataSync()), 'int32 to bool').toEqual([0, 1, 1]);
      expect(Array.from(bf.dataSync()), 'float32 to bool: non-zero is true, as on cpu').toEqual([0, 1, 1]);
    });
    tf.dispose([s, i]);
    // strings keep tfjs's own kernel
    const str = tf.tensor(['a', 'b']);
    const strC = tf.clone(str);
    expect(strC.dataSync()).toEqual(['a', 'b']);
    tf.dispose([str, strC]);
    const v = tf.tensor([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.clone(t), tf.cast(t, 'float32'))))(v);
    expect(Array.from(g.dataSync())).toEqual([2, 4, 6]);
    tf.dispose([v, g]);
    expect(tf.memory().numTensors).toBe(n0);
    expect(be.numDataIds()).toBe(ids0);
  });
});
