/**
 * XNNPACK's packed weight copies on wasm (wasm-packing.ts): 'cached' keeps one per weight
 * multiplied by (the heap grows by about the weights' size once more), 'per-call' drops each
 * after its product (the heap does not grow), both give the same products, and
 * releaseWasmPackedWeights frees the held copies without touching the tensors.
 *
 * The per-call test runs first and keeps its weights, so the cached test's packed copies cannot
 * reuse memory freed by the first one: the heap growth it measures is its own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, releaseWasmPackedWeights, setWasmWeightPacking, wasmPackedWeightBytes, wasmWeightPacking } from '../../src/index.js';

const K = 1024;
const N = 2048; // 8 MiB per weight
const COUNT = 24; // 192 MiB of weights per test
const MiB = 1 << 20;

const heapBytes = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
const weights = (seed: number) =>
  Array.from({ length: COUNT }, (_, i) => tf.randomUniform([K, N], -1, 1, 'float32', seed + i) as tf.Tensor2D);
const x = () => tf.randomUniform([4, K], -1, 1, 'float32', 7) as tf.Tensor2D;

/** Products x·W for every W; returns their first rows (for comparing modes) and the heap growth during the products. */
async function products(ws: tf.Tensor2D[]): Promise<{ rows: Float32Array[]; growth: number }> {
  const a = x();
  await a.data();
  const before = heapBytes();
  const rows: Float32Array[] = [];
  for (const w of ws) {
    const y = tf.matMul(a, w);
    rows.push((await y.data()).slice(0, N) as Float32Array);
    y.dispose();
  }
  const growth = heapBytes() - before;
  a.dispose();
  return { rows, growth };
}

let kept: tf.Tensor2D[] = [];
let perCallRows: Float32Array[] = [];

describe('XNNPACK weight packing on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm', { threads: 1 });
  });
  afterAll(() => {
    tf.dispose(kept);
    setWasmWeightPacking('cached');
  });

  it("'per-call' drops each packed copy after its product: no heap growth, nothing tracked", async () => {
    expect(setWasmWeightPacking('per-call')).toBe('cached');
    expect(wasmWeightPacking()).toBe('per-call');
    kept = weights(100);
    await Promise.all(kept.map((w) => w.data()));
    const n0 = tf.memory().numTensors;
    const { rows, growth } = await products(kept);
    console.info(`[per-call] heap growth over ${COUNT} products with ${COUNT * 8} MiB of weights: ${(growth / MiB).toFixed(1)} MiB`);
    expect(tf.memory().numTensors).toBe(n0);
    expect(growth).toBeLessThan(40 * MiB);
    expect(wasmPackedWeightBytes()).toBe(0);
    perCallRows = rows;
    setWasmWeightPacking('cached');
  });

  it("'cached' keeps a packed copy per weight (the heap grows by about their size), same products; releaseWasmPackedWeights frees them and the weights still work", async () => {
    const ws = weights(100); // the same values as the per-call weights
    await Promise.all(ws.map((w) => w.data()));
    const { rows, growth } = await products(ws);
    console.info(
      `[cached] heap growth: ${(growth / MiB).toFixed(1)} MiB; tracked packed bytes ${(wasmPackedWeightBytes() / MiB).toFixed(1)} MiB`,
    );
    expect(growth).toBeGreaterThan(0.8 * COUNT * K * N * 4);
    expect(wasmPackedWeightBytes()).toBe(COUNT * K * N * 4);
    for (let i = 0; i < COUNT; i++) expect(rows[i]).toEqual(perCallRows[i]);

    expect(releaseWasmPackedWeights()).toBe(COUNT * K * N * 4);
    expect(wasmPackedWeightBytes()).toBe(0);
    // the freed copies are free heap: 20 more weight-sized tensors fit without growing it
    const h0 = heapBytes();
    const more = Array.from({ length: 20 }, () => tf.zeros([K, N]));
    await Promise.all(more.map((t) => t.data()));
    expect(heapBytes() - h0).toBeLessThan(10 * MiB);
    tf.dispose(more);
    // the tensors keep their data and multiply as before (a new packed copy is made and tracked)
    const again = await products(ws.slice(0, 2));
    expect(again.rows[0]).toEqual(perCallRows[0]);
    expect(again.rows[1]).toEqual(perCallRows[1]);
    expect(wasmPackedWeightBytes()).toBe(2 * K * N * 4);
    const n = tf.memory().numTensors;
    tf.dispose(ws);
    expect(tf.memory().numTensors).toBe(n - COUNT);
    expect(wasmPackedWeightBytes()).toBe(0); // disposed weights take their packed copies with them
  });

  it('refuses an unknown mode', () => {
    expect(() => setWasmWeightPacking('never' as never)).toThrow(/'cached' or 'per-call'/);
  });
});
