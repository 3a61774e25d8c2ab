import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
import { VQVAE, vqvaeGradients } from '../src/index.js';
import { setBackend } from './backend.js';
it('prof', async () => {
  await setBackend('wasm');
  const vae = VQVAE.create({ ch: 32, chMult: [1, 2, 2], numResBlocks: 1, zChannels: 8, vocabSize: 64, vPatchNums: [1, 2, 4] }, { seed: 1 });
  const x = tf.randomUniform([20, 3, 16, 16], -1, 1) as tf.Tensor4D;
  tf.dispose([...vqvaeGradients(vae, x).grads.values()]);
  const t0 = performance.now();
  const prof = await tf.profile(() => { const g = vqvaeGradients(vae, x); tf.dispose([...g.grads.values()]); });
  console.log('step ms', (performance.now() - t0).toFixed(0));
  const agg = new Map<string, number>();
  for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  console.log([...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([k, v]) => `${k}:${v.toFixed(0)}`).join(' '));
});
