import * as tf from '@tensorflow/tfjs-core';
import { it } from 'vitest';
import { loadFixtureCase } from '@var/test-helpers';
import { VQVAE, fromOfficialConfig, convFlops } from '../src/index.js';
import { setBackend } from './backend.js';
const fc = loadFixtureCase();
const config = fromOfficialConfig(fc.config.VQVAE);
it('prof', async () => {
  for (const b of (process.env.PB ?? 'cpu').split(',')) {
  await setBackend(b as any);
  const vae = VQVAE.fromStateDict(fc.tensors('vae.safetensors'), config);
  const r = fc.ref('fhat_s3');
  const fh = tf.tensor4d(r.data as Float32Array, r.shape as any);
  vae.fhatToImg(fh).dispose();
  const prof = await tf.profile(() => { const o = vae.fhatToImg(fh); return o; });
  const agg = new Map<string, number>();
  for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
  const tot = [...agg.values()].reduce((a, b) => a + b, 0);
  console.log(b, 'total kernel ms', tot.toFixed(0), [...agg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k}:${v.toFixed(0)}`).join(' '));
  const fl = convFlops(config, 64, 64); console.log('GFLOP dec per image', fl.decoder / 1e9, 'enc', fl.encoder / 1e9);
  vae.dispose(); fh.dispose();
  }
});
