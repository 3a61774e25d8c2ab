#!/usr/bin/env node
// Time (or, with --profile, kernel-profile) tokenizer training steps for a config (used to size
// the MNIST models): node experiments/bench-step.mjs '<tokenizer config JSON>' [--batch 32] [--profile]
import { numberArg, parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/bench-step.mjs '<VQVAE config JSON>' [--batch 32] [--profile]

Times three tokenizer training steps (forward + gradients, wasm, 1 thread, with @var/core's
conv gradient kernels, registered by initBackend) on random images of the config's size, or with --profile prints the 15
kernels that take the most time in one warmed-up step. Example config:
'{"vocabSize":512,"zChannels":8,"ch":32,"chMult":[1,2,2],"vPatchNums":[1,2,3,4,6,8],"inChannels":1}'
`;
const { values: o, positionals } = parseCommand(
  USAGE,
  { batch: { type: 'string', default: '32' }, profile: { type: 'boolean', default: false } },
  { positionals: 1 },
);
let cfg;
try {
  cfg = JSON.parse(positionals[0]);
} catch (e) {
  process.stderr.write(`the config must be JSON: ${e.message}\n\n${USAGE.trim()}\n`);
  process.exit(2);
}
const B = numberArg(USAGE, 'batch', o.batch);

await (await import('@var/core')).ensureGradients();
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VQVAE, vqvaeGradients } = await import('@var/tokenizer');
const { timeOrProfile } = await import('./profile.mjs');
await initBackend('wasm', { threads: 1 });
const vae = VQVAE.create(cfg, { seed: 0 });
const img = tf.randomUniform([B, cfg.inChannels ?? 3, vae.imageSize, vae.imageSize], -1, 1);
await timeOrProfile(
  tf,
  () => {
    const g = vqvaeGradients(vae, img);
    tf.dispose([...g.grads.values()]);
  },
  `params ${vae.numParameters()} B ${B}`,
  o.profile,
);
