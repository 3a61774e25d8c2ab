#!/usr/bin/env node
// Time per scale and total of `generate` for the mid-size config, with and without the KV cache,
// in one run: VQVAE ch 64, V 512, z 16, patch_nums 1,2,3,4,6,8 (128 px); VAR depth 6, width 384
// (6 heads), 1000 classes; random official initialisation (the timings do not depend on weights).
//
//   pnpm turbo run build --filter=@var/sampling... && pnpm --filter @var/sampling bench
//   node bench/generate.mjs [--backend wasm|cpu|webgpu|auto] [--threads N] [--batch 2] [--reps 3]
//
// "scale k" is the wall time from the end of scale k-1 (or the start) to the end of scale k: the
// transformer step (the CFG batch is 2·B), the CFG combination, the download of the logits,
// top-k/top-p sampling on the CPU and the f_hat update. "decode" is the VQVAE decoder on the final
// f_hat; "total" is the whole call. Medians over the repetitions after one warm-up run.
import { register } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const USAGE = `usage: node bench/generate.mjs [--backend wasm|cpu|webgpu|auto] [--threads N] [--batch 2] [--reps 3]

Time per scale and total of generate (mid-size config, random weights) with and without the KV
cache; medians over --reps after one warm-up. Needs the packages built.`;
const parsed = parseCommand(USAGE, {
  backend: { type: 'string', default: 'wasm' },
  threads: { type: 'string' },
  batch: { type: 'string', default: '2' },
  reps: { type: 'string', default: '3' },
});
const positive = (name) => positiveArg(USAGE, name, parsed.values[name]);

// @tensorflow/tfjs-core's dist/*.js are ES modules written for bundlers: their imports have no
// file extension, which Node's ESM loader cannot resolve, so a side-effect import such as
// '@tensorflow/tfjs-core/dist/register_all_gradients' (used for training) fails in plain Node.
// This resolve hook adds the '.js' for those specifiers only (they cannot resolve otherwise).
const hook = `export async function resolve(spec, ctx, next) {
  const inCore = ctx.parentURL && ctx.parentURL.includes('/tfjs-core/dist/');
  if (/^@tensorflow\\/tfjs-core\\/dist\\/[^.]+$/.test(spec) || (inCore && /^\\.\\.?\\//.test(spec) && !/\\.m?js$/.test(spec))) spec += '.js';
  return next(spec, ctx);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

const here = dirname(fileURLToPath(import.meta.url));
const backend = parsed.values.backend;
const threads = parsed.values.threads !== undefined ? String(positive('threads')) : undefined;
const B = positive('batch');
const reps = positive('reps');

const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VQVAE } = await import('@var/tokenizer');
const { VAR, midBenchConfigs } = await import('@var/transformer');
const { generate } = await import(pathToFileURL(join(here, '..', 'dist', 'index.js')).href);

const info = await initBackend(backend, threads ? { threads: Number(threads) } : {});
const mid = midBenchConfigs();
const patchNums = mid.var.patchNums;
const vae = VQVAE.create(mid.vae, { seed: 0 });
const model = VAR.create(mid.var, { seed: 0 });
const side = patchNums[patchNums.length - 1] * vae.downsample;
console.log(`backend ${info.name}${info.threads ? ` (${info.threads} threads)` : ''} — ${info.reason}`);
console.log(
  `VQVAE ch 64 V 512 z 16, ${side}px, patch_nums ${patchNums.join(',')}; VAR depth 6 width 384; batch ${B} (CFG batch ${2 * B}); cfg 4, top-k 900, top-p 0.95`,
);

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

async function timeRun(kvCache) {
  const labels = Array.from({ length: B }, (_, i) => (i * 97) % 1000);
  let last = 0;
  const scaleMs = [];
  const t0 = performance.now();
  last = t0;
  const r = await generate(vae, model, {
    labels,
    cfg: 4,
    topK: 900,
    topP: 0.95,
    seed: 0,
    kvCache,
    onScale: () => {
      const now = performance.now();
      scaleMs.push(now - last);
      last = now;
    },
  });
  await r.images.data(); // wait for the decoder
  const total = performance.now() - t0;
  const decode = performance.now() - last;
  tf.dispose([r.images, r.fHat]);
  return { scaleMs, decode, total };
}

const rows = {};
for (const kvCache of [true, false]) {
  await timeRun(kvCache); // warm-up (kernel compilation, weight transposes)
  const runs = [];
  for (let i = 0; i < reps; i++) runs.push(await timeRun(kvCache));
  rows[kvCache ? 'KV cache' : 'no cache'] = {
    scales: patchNums.map((_, si) => median(runs.map((r) => r.scaleMs[si]))),
    decode: median(runs.map((r) => r.decode)),
    total: median(runs.map((r) => r.total)),
  };
}

const pad = (s, n) => String(s).padStart(n);
console.log(['', ...patchNums.map((pn, si) => `s${si} ${pn}x${pn}`), 'decode', 'total'].map((s, i) => pad(s, i ? 10 : 9)).join(''));
for (const [name, r] of Object.entries(rows)) {
  console.log(
    [pad(name, 9), ...r.scales.map((v) => pad(v.toFixed(1), 10)), pad(r.decode.toFixed(1), 10), pad(r.total.toFixed(1), 10)].join(''),
  );
}
console.log('(milliseconds, median of', reps, 'runs)');
console.log(`tensors alive after the runs: ${tf.memory().numTensors} (models only)`);
vae.dispose();
model.dispose();
