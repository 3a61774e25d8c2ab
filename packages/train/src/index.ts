/**
 * @var/train — resumable training pipelines for var.ts: the multi-scale VQVAE tokenizer and
 * the VAR transformer. Runs live in a directory (config.json, atomic safetensors
 * checkpoints with weights + optimiser + RNG + data position, log.jsonl) and resume exactly.
 */
export * from './run-dir.js';
export * from './checkpoint.js';
export * from './optim.js';
export * from './dataset.js';
export * from './session.js';
export * from './eval.js';
export * from './tokenizer.js';
export * from './fast-conv.js';
export * from './var.js';
export * from './quality.js';
export * from './official.js';
export * from './official-trainer.js';
