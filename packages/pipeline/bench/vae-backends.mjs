#!/usr/bin/env node
/**
 * The official-size VQVAE decoder (vae_ch160v4096z32.pth) on wasm and on webgpu, side by side:
 * decodes the same random token maps (all 10 scales of a 256 px image) on both and prints one
 * JSON line with each backend's time, whether its image is finite, and the largest difference.
 * A benchmark for the note (webgpu in Node runs on Mesa's lavapipe here), not a CI test.
 *
 * make_official_checkpoint.py re-draws only the VQVAE's matrices; the official build leaves its
 * biases uninitialised, so such a file can hold NaN or ~1e37 biases, and every image decoded
 * from it is NaN (PyTorch too). `--finite` (default) first zeroes each bias that holds a
 * non-finite value or one above 1e3 in magnitude and lists them (`zeroed`), so the two backends
 * are compared on numbers; `--no-finite` decodes the file as it is.
 *
 *   node packages/pipeline/bench/vae-backends.mjs FILE [--no-finite] [--seed 0] [--threads 2]
 */
import { loadStateDict } from '@var/checkpoint';
import { initBackend } from '@var/core';
import { presetConfig } from '@var/models';
import { VQVAE } from '@var/tokenizer';
import * as tf from '@tensorflow/tfjs-core';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const USAGE = `usage: node packages/pipeline/bench/vae-backends.mjs FILE [--no-finite] [--seed 0] [--threads 2]

Decodes the same random tokens with the official-size VQVAE in FILE on wasm and on webgpu and prints
one JSON line: seconds per backend, finiteness, max |wasm - webgpu|. --no-finite keeps non-finite biases.`;
const { values: o, positionals } = parseCommand(
  USAGE,
  {
    'no-finite': { type: 'boolean', default: false },
    seed: { type: 'string', default: '0' },
    threads: { type: 'string', default: '2' },
  },
  { positionals: 1 },
);
const threads = positiveArg(USAGE, 'threads', o.threads);
let seed = Number(o.seed) >>> 0;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;

const sd = await loadStateDict(positionals[0]);
const zeroed = [];
if (!o['no-finite']) {
  for (const [name, t] of sd) {
    if (t.shape.length !== 1 || !(t.data instanceof Float32Array)) continue;
    if (t.data.some((v) => !Number.isFinite(v) || Math.abs(v) > 1e3)) {
      zeroed.push(name);
      sd.set(name, { ...t, data: new Float32Array(t.data.length) });
    }
  }
}
const cfg = presetConfig('d16').tokenizer;
const tokens = cfg.vPatchNums.map((pn) => Int32Array.from({ length: pn * pn }, () => Math.floor(rnd() * cfg.vocabSize)));

const out = { file: positionals[0], zeroed, scales: cfg.vPatchNums };
const images = {};
for (const backend of ['wasm', 'webgpu']) {
  const info = await initBackend(backend, backend === 'wasm' ? { threads } : {});
  process.stderr.write(`${backend}: ${info.reason}\n`);
  const vae = VQVAE.fromStateDict(sd, cfg);
  const idx = tokens.map((t) => tf.tensor2d(t, [1, t.length], 'int32'));
  const t0 = performance.now();
  const img = vae.idxToImg(idx);
  const px = await img.data();
  const s = (performance.now() - t0) / 1000;
  tf.dispose([img, ...idx]);
  vae.dispose();
  images[backend] = px;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of px) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  out[backend] = { adapter: info.reason, seconds: Number(s.toFixed(2)), finite: px.every(Number.isFinite), min, max };
}
let maxDiff = 0;
for (let i = 0; i < images.wasm.length; i++) maxDiff = Math.max(maxDiff, Math.abs(images.wasm[i] - images.webgpu[i]));
out.maxAbsDiff = maxDiff;
console.log(JSON.stringify(out));
