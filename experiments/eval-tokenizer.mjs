#!/usr/bin/env node
/**
 * Evaluate a tokenizer (a finished run dir, or a model file) on the held-out split of its
 * run's dataset: reconstruction MSE / PSNR, codebook usage, and for MNIST the digit
 * classifier's accuracy on reconstructions and on the real images.
 *
 *   node experiments/eval-tokenizer.mjs runs/mnist-tokenizer [--samples N] [--threads 1]
 */
import { numberArg, parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/eval-tokenizer.mjs <tokenizer run dir> [--samples N] [--threads 1]

Reconstruction MSE / PSNR and codebook usage of a tokenizer run on the held-out split of its
dataset (the first N held-out images; default all), and for MNIST the digit classifier's
accuracy on the reconstructions and on the real images. Prints JSON.
`;
const { values: o, positionals } = parseCommand(
  USAGE,
  { samples: { type: 'string' }, threads: { type: 'string', default: '1' } },
  { positionals: 1 },
);
const runDir = positionals[0];
await (await import('@var/core')).ensureGradients();
const { initBackend } = await import('@var/core');
await initBackend('wasm', { threads: numberArg(USAGE, 'threads', o.threads) });
const { evalImages, loadDataset, loadDigitClassifier, loadTokenizer, readRunConfig } = await import('@var/train');
const cfg = await readRunConfig(runDir);
const { vae, hash } = await loadTokenizer(runDir);
const ds = await loadDataset(cfg.dataset);
const n = Math.min(o.samples !== undefined ? numberArg(USAGE, 'samples', o.samples) : ds.heldOut.length, ds.heldOut.length);
const classifier = ds.spec.name === 'mnist' ? await loadDigitClassifier(ds.spec) : undefined;
const t0 = Date.now();
const m = await evalImages(vae, ds, n, classifier);
console.log(
  JSON.stringify({ runDir, tokenizerSha256: hash, heldOut: ds.heldOut.length, ...m, seconds: (Date.now() - t0) / 1000 }, null, 2),
);
