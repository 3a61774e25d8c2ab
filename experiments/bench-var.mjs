#!/usr/bin/env node
// Time (or, with --profile, kernel-profile) VAR training steps for a model size (used to size
// the MNIST VAR): node experiments/bench-var.mjs --depth 4 --width 128 --heads 4 --batch 16 [--profile]
import { numberArg, parseCommand, positiveArg } from './args.mjs';

const USAGE = `
usage: node experiments/bench-var.mjs --depth D --width W --heads H [--batch 16] [--micro-batch auto|N] [--attention batched|perHead|auto]
       [--profile] [--torch] [--runs 3] [--threads 1]

Times --runs VAR training steps (forward + backward over micro-batches, gradient clip, AdamW; wasm,
--threads threads, default 1; PyTorch runs with 2) of a class-conditional model on the MNIST tokenizer's shapes (patch_nums 1,2,3,4,6,8, vocab
512, Cvae 16, 10 classes) with random inputs, or with --profile prints the 15 kernels that take the
most time in one warmed-up step. --micro-batch: samples per forward/backward pass (@var/train's
gradient accumulation; auto: the largest that fits wasm's 4 GiB heap, estimateTrainStepBytes).
--torch (depth 6, width 384, heads 6 only): then runs the official PyTorch step on this machine
(/work/shared/bench/torch_anchor.py train-mid, batch --batch, /usr/bin/python3, 2 threads) and prints
the ratio of the median steps (var.ts / torch).
The wasm kernels are @var/core's (registered by initBackend).
`;
const { values: o } = parseCommand(USAGE, {
  depth: { type: 'string' },
  width: { type: 'string' },
  heads: { type: 'string' },
  batch: { type: 'string', default: '16' },
  'micro-batch': { type: 'string', default: 'auto' },
  attention: { type: 'string', default: 'auto' },
  profile: { type: 'boolean', default: false },
  torch: { type: 'boolean', default: false },
  runs: { type: 'string', default: '3' },
  threads: { type: 'string', default: '1' },
});
const depth = numberArg(USAGE, 'depth', o.depth);
const embedDim = numberArg(USAGE, 'width', o.width);
const numHeads = numberArg(USAGE, 'heads', o.heads);
const B = numberArg(USAGE, 'batch', o.batch);
const attention = o.attention;
const runs = positiveArg(USAGE, 'runs', o.runs);
const requestedMicro = o['micro-batch'] === 'auto' ? 'auto' : positiveArg(USAGE, 'micro-batch', o['micro-batch']);
if (o.torch && !(depth === 6 && embedDim === 384 && numHeads === 6)) {
  process.stderr.write(`--torch compares with torch_anchor.py train-mid: depth 6, width 384, heads 6 only\n\n${USAGE.trim()}\n`);
  process.exit(2);
}

await (await import('@var/core')).ensureGradients();
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { AdamW, clipGradNorm, Rng } = await import('@var/core');
const { VAR, midBenchConfigs, weightDecayScale } = await import('@var/transformer');
const { chooseMicroBatch, estimateTrainStepBytes, microBatchLossGrads } = await import('@var/train');
const { availableBytes } = await import('@var/sampling');
const { timeOrProfile } = await import('./profile.mjs');
const threads = positiveArg(USAGE, 'threads', o.threads);
await initBackend('wasm', { threads });
const cfg = midBenchConfigs({ numClasses: 10, depth, embedDim, numHeads }).var;
const patchNums = cfg.patchNums;
const L = patchNums.reduce((a, p) => a + p * p, 0);
const model = VAR.create(cfg, { seed: 0, attention });
const opt = new AdamW(model.trainableVariables(), { betas: [0.9, 0.95], wdScale: (n, shape) => weightDecayScale(n, shape) });
const x = tf.randomNormal([B, L - 1, 16]);
const gt = Int32Array.from({ length: B * L }, (_, i) => (i * 7919) % 512);
const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
// throws OutOfMemoryError (naming the largest micro-batch that fits) before any step when none fits
const micro = chooseMicroBatch(B, requestedMicro, estimateTrainStepBytes(cfg, model.numParameters()), await availableBytes());
const rng = new Rng(1);
const step = () => {
  const r = microBatchLossGrads(model, labels, x, gt, micro, { rng });
  clipGradNorm(r.grads, 2);
  opt.step(r.grads, 1e-4, 0.05);
  tf.dispose([...r.grads.values()]);
  return ` loss ${r.loss.toFixed(3)} passes ${r.passes}`;
};
const label = `params ${model.numParameters()} B ${B} micro-batch ${micro} attention ${attention} wasm threads ${threads}`;
if (o.profile) await timeOrProfile(tf, step, label, true);
else {
  const ms = [];
  for (let i = 0; i <= runs; i++) {
    const t = Date.now();
    const extra = step();
    if (i > 0) ms.push(Date.now() - t);
    console.log(`${label} step ${Date.now() - t} ms${extra}${i === 0 ? ' (warm-up)' : ''}`);
  }
  const median = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
  const varS = median(ms) / 1000;
  console.log(`var.ts median step ${varS.toFixed(2)} s (${runs} runs after a warm-up)`);
  if (o.torch) {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('/usr/bin/python3', ['/work/shared/bench/torch_anchor.py', 'train-mid', String(runs)], {
      env: { ...process.env, TRAIN_B: String(B), OMP_WAIT_POLICY: 'PASSIVE' },
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const t = JSON.parse(out.trim().split('\n').pop());
    console.log(
      `torch ${t.torch} median step ${t.median_step_s.toFixed(2)} s (batch ${t.batch}, ${t.runs} runs after a warm-up, peak RSS ${t.peak_rss_mib.toFixed(0)} MiB)`,
    );
    console.log(`ratio var.ts / torch: ${(varS / t.median_step_s).toFixed(2)}x (target <= 1.5x)`);
  }
}
opt.dispose();
model.dispose();
x.dispose();
