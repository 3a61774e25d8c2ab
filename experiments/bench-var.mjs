#!/usr/bin/env node
// Time (or, with --profile, kernel-profile) VAR training steps for a model size (used to size
// the MNIST VAR): node experiments/bench-var.mjs --depth 4 --width 128 --heads 4 --batch 16 [--fast] [--profile]
import { numberArg, parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/bench-var.mjs --depth D --width W --heads H [--batch 16] [--fast] [--attention batched|perHead|auto] [--profile]

Times three VAR training steps (loss + gradients, wasm, 1 thread) of a class-conditional model on
the MNIST tokenizer's shapes (patch_nums 1,2,3,4,6,8, vocab 512, Cvae 16, 10 classes) with random
inputs, or with --profile prints the 15 kernels that take the most time in one warmed-up step.
--fast registers @var/train's forward-conv gradient kernels first.
`;
const { values: o } = parseCommand(USAGE, {
  depth: { type: 'string' },
  width: { type: 'string' },
  heads: { type: 'string' },
  batch: { type: 'string', default: '16' },
  fast: { type: 'boolean', default: false },
  attention: { type: 'string', default: 'auto' },
  profile: { type: 'boolean', default: false },
});
const depth = numberArg(USAGE, 'depth', o.depth);
const embedDim = numberArg(USAGE, 'width', o.width);
const numHeads = numberArg(USAGE, 'heads', o.heads);
const B = numberArg(USAGE, 'batch', o.batch);
const attention = o.attention;

await (await import('@var/core')).ensureGradients();
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VAR, lossGrads, midBenchConfigs } = await import('@var/transformer');
const { timeOrProfile } = await import('./profile.mjs');
await initBackend('wasm', { threads: 1 });
if (o.fast) (await import('@var/train')).registerFastConvGradients();
const cfg = midBenchConfigs({ numClasses: 10, depth, embedDim, numHeads }).var;
const patchNums = cfg.patchNums;
const L = patchNums.reduce((a, p) => a + p * p, 0);
const model = VAR.create(cfg, { seed: 0, attention });
const x = tf.randomNormal([B, L - 1, 16]);
const gt = Int32Array.from({ length: B * L }, (_, i) => (i * 7919) % 512);
const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
await timeOrProfile(
  tf,
  () => {
    const r = lossGrads(model, labels, x, gt, { training: true, rng: 1 });
    tf.dispose([...r.grads.values()]);
    return ` loss ${r.loss.toFixed(3)}`;
  },
  `params ${model.numParameters()} B ${B} attention ${attention}`,
  o.profile,
);
