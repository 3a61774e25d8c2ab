#!/usr/bin/env node
// Write a tokenizer model file (model.safetensors format) from a run's latest checkpoint,
// e.g. to try VAR training before the tokenizer run has finished:
//   node experiments/export-tokenizer.mjs runs/mnist-tokenizer /tmp/tokenizer.safetensors
import { parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/export-tokenizer.mjs <tokenizer run dir> <out.safetensors>

Writes a tokenizer model file (the run's model.safetensors format) from the run's latest
checkpoint, e.g. to start a VAR run before the tokenizer run has finished.
`;
const [runDir, out] = parseCommand(USAGE, {}, { positionals: 2 }).positionals;
await (await import('@var/core')).ensureGradients();
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
