#!/usr/bin/env node
/**
 * Evaluate a tokenizer (a finished run dir, or a model file) on the held-out split of its
 * run's dataset: reconstruction MSE / PSNR, codebook usage, and for MNIST the digit
 * classifier's accuracy on reconstructions and on the real images.
 *
 *   node packages/train/scripts/eval-tokenizer.mjs runs/mnist-tokenizer [--samples N] [--threads 1]
 */
await import('./node-setup.mjs');
const args = process.argv.slice(2);
const flag = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const runDir = args[0];
if (!runDir) { console.error('usage: eval-tokenizer.mjs <tokenizer run dir> [--samples N] [--threads N]'); process.exit(2); }
const { initBackend } = await import('@var/core');
await initBackend('wasm', { threads: Number(flag('--threads', '1')) });
const { evalImages, loadDataset, loadDigitClassifier, loadTokenizer, readRunConfig } = await import('@var/train');
const cfg = await readRunConfig(runDir);
const { vae, hash } = await loadTokenizer(runDir);
const ds = await loadDataset(cfg.dataset);
const n = Math.min(Number(flag('--samples', String(ds.heldOut.length))), ds.heldOut.length);
const classifier = ds.spec.name === 'mnist' ? await loadDigitClassifier(ds.spec) : undefined;
const t0 = Date.now();
const m = await evalImages(vae, ds, n, classifier);
console.log(JSON.stringify({ runDir, tokenizerSha256: hash, heldOut: ds.heldOut.length, ...m, seconds: (Date.now() - t0) / 1000 }, null, 2));
