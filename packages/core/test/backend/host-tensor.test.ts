/**
 * weightTensor / transpose2DInto / oihwToHwioInto (host-tensor.ts): the rearranged tensor equals
 * tf.transpose of the checkpoint-layout tensor on every shape (ragged tiles, 1×1 and 3×3
 * kernels), on wasm (written into the heap) and cpu (through a host array), the input array is
 * neither kept nor changed, and nothing leaks.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend, oihwToHwioInto, transpose2DInto, ValueError, weightLayoutShape, weightTensor } from '../../src/index.js';

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => (Math.sin(i * 12.9898 + seed) * 43758.5453) % 1);

const SHAPES_2D: [number, number][] = [
  [1, 1],
  [3, 5],
  [4, 4],
  [33, 65],
  [64, 128],
  [127, 37],
];
const SHAPES_4D: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [3, 5, 3, 3],
  [7, 2, 1, 1],
  [33, 17, 3, 3],
  [64, 36, 3, 3],
  [5, 3, 2, 4],
];

describe.each(['wasm', 'cpu'] as const)('weightTensor on %s', (backend) => {
  it('equals tf.transpose of the checkpoint layout, keeps nothing, leaks nothing', async () => {
    await initBackend(backend, backend === 'wasm' ? { threads: 1 } : {});
    const before = tf.memory().numTensors;
    let seed = 0;
    for (const shape of [...SHAPES_2D, ...SHAPES_4D]) {
      const layout = shape.length === 2 ? 'transpose' : 'oihw-to-hwio';
      const perm = shape.length === 2 ? [1, 0] : [2, 3, 1, 0];
      const n = shape.reduce((a, b) => a * b, 1);
      const data = values(n, seed++);
      const orig = data.slice();
      const t = weightTensor(data, shape, layout);
      const ref = tf.tidy(() => tf.transpose(tf.tensor(orig, shape), perm));
      expect(t.shape).toEqual(ref.shape);
      expect(t.shape).toEqual(weightLayoutShape(shape, layout));
      const want = Array.from(await ref.data());
      expect(Array.from(await t.data())).toEqual(want);
      data.fill(Number.NaN); // the tensor does not share its input
      expect(Array.from(await t.data())).toEqual(want);
      const input = orig.slice();
      const same = weightTensor(input, shape, 'as-is');
      input.fill(0);
      expect(Array.from(await same.data())).toEqual(Array.from(orig));
      tf.dispose([t, ref, same]);
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('host rearrangements', () => {
  it('transpose2DInto and oihwToHwioInto match index definitions', () => {
    const [r, c] = [37, 70];
    const src = values(r * c, 1);
    const dst = new Float32Array(r * c);
    transpose2DInto(src, r, c, dst);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) expect(dst[j * r + i]).toBe(src[i * c + j]);
    const [O, I, H, W] = [9, 6, 3, 2];
    const w = values(O * I * H * W, 2);
    const hwio = new Float32Array(w.length);
    oihwToHwioInto(w, [O, I, H, W], hwio);
    for (let o = 0; o < O; o++)
      for (let i = 0; i < I; i++)
        for (let h = 0; h < H; h++)
          for (let x = 0; x < W; x++) expect(hwio[((h * W + x) * I + i) * O + o]).toBe(w[((o * I + i) * H + h) * W + x]);
  });

  it('rejects data that does not fit the shape or layout', () => {
    expect(() => weightTensor(new Float32Array(5), [2, 3], 'transpose')).toThrow(ValueError);
    expect(() => weightTensor(new Float32Array(6), [6], 'transpose')).toThrow(/2-D/);
    expect(() => weightTensor(new Float32Array(6), [2, 3], 'oihw-to-hwio')).toThrow(/4-D/);
    expect(() => transpose2DInto(new Float32Array(5), 2, 3, new Float32Array(6))).toThrow(ValueError);
  });
});
