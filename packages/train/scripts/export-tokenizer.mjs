#!/usr/bin/env node
// Write a tokenizer model file (model.safetensors format) from a run's latest checkpoint,
// e.g. to try VAR training before the tokenizer run has finished:
//   node packages/train/scripts/export-tokenizer.mjs runs/mnist-tokenizer /tmp/tokenizer.safetensors
await import('./node-setup.mjs');
const [runDir, out] = process.argv.slice(2);
if (!runDir || !out) { console.error('usage: export-tokenizer.mjs <tokenizer run dir> <out.safetensors>'); process.exit(2); }
const { initBackend } = await import('@var/core');
await initBackend('wasm', { threads: 1 });
const { loadCheckpoint, readRunConfig, writeTokenizerModel } = await import('@var/train');
const { VQVAE } = await import('@var/tokenizer');
const { join } = await import('node:path');
const cfg = await readRunConfig(runDir);
const ck = await loadCheckpoint(join(runDir, 'checkpoint.safetensors'));
const vae = VQVAE.fromStateDict(ck.model, cfg.model);
await writeTokenizerModel(out, vae, { step: String(ck.state.step) });
console.log(`wrote ${out} (step ${ck.state.step})`);
