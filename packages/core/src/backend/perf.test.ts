import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
import { initBackend } from '../index.js';
it('perf', async () => {
  await import('@tensorflow/tfjs-backend-wasm');
  const orig = tf.getKernel('BatchMatMul', 'wasm')!;
  await initBackend('wasm', { threads: 1 });
  const fast = tf.getKernel('BatchMatMul', 'wasm')!;
  const time = async (f: () => tf.Tensor, n = 3) => { let y = f(); await y.data(); y.dispose(); const t0 = performance.now(); for (let i = 0; i < n; i++) { y = f(); await y.data(); y.dispose(); } return (performance.now() - t0) / n; };
  for (const [Bt, L, d] of [[16, 256, 64], [8, 128, 64], [4, 680, 64]]) {
    const q = tf.randomNormal([Bt, L, d]); const k = tf.randomNormal([Bt, L, d]);
    const g = 2 * Bt * L * L * d / 1e6;
    const out: string[] = [];
    for (const [name, kc] of [['orig', orig], ['fast', fast], ['orig', orig], ['fast', fast]] as const) {
      tf.unregisterKernel('BatchMatMul', 'wasm'); tf.registerKernel(kc);
      const ms = await time(() => tf.matMul(q, k, false, true));
      out.push(`${name} ${ms.toFixed(1)}ms ${(g / ms).toFixed(2)}GF/s`);
    }
    console.log(`PERF qk^T ${Bt}x${L}x${d}: ${out.join(' | ')}`);
    tf.dispose([q, k]);
  }
});
