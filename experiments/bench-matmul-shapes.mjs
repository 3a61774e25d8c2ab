#!/usr/bin/env node
// The matMul shapes of one mid-config training step (depth 6, width 384, micro-batch 8 × 130
// tokens) on wasm: median time and GFLOP/s of each product, forward and both gradients, beside a
// square product of the same process (its practical peak). Shows which shapes run far below it.
//   node experiments/bench-matmul-shapes.mjs [--threads 1] [--runs 5]
import { parseCommand, positiveArg } from './args.mjs';

const USAGE = `
usage: node experiments/bench-matmul-shapes.mjs [--threads 1] [--runs 5]

Times, on wasm with @var/core's kernels, the matMul shapes of the mid training step (linear layers'
forward, input gradient a·bᵀ and weight gradient aᵀ·b; adaLN's few-row products; attention's
batched q·kᵀ) and a 1024³ product, printing milliseconds (median of --runs after a warm-up) and GFLOP/s.
`;
const { values: o } = parseCommand(USAGE, {
  threads: { type: 'string', default: '1' },
  runs: { type: 'string', default: '5' },
});
const threads = positiveArg(USAGE, 'threads', o.threads);
const runs = positiveArg(USAGE, 'runs', o.runs);
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const info = await initBackend('wasm', { threads });
console.log(info.reason);
const cases = [
  ['peak 1024³', [1024, 1024], [1024, 1024], false, false],
  ['fc1 forward', [1040, 384], [384, 1536], false, false],
  ['fc1 dx = dy·Wᵀ', [1040, 1536], [384, 1536], false, true],
  ['fc1 dW = xᵀ·dy', [1040, 384], [1040, 1536], true, false],
  ['adaLN forward', [8, 384], [384, 2304], false, false],
  ['adaLN dx', [8, 2304], [384, 2304], false, true],
  ['adaLN dW', [8, 384], [8, 2304], true, false],
  ['attention q·kᵀ', [96, 130, 64], [96, 130, 64], false, true],
];
for (const [name, as, bs, ta, tb] of cases) {
  const a = tf.randomNormal(as);
  const b = tf.randomNormal(bs);
  const M = ta ? as.at(-1) : as.at(-2);
  const K = ta ? as.at(-2) : as.at(-1);
  const N = tb ? bs.at(-2) : bs.at(-1);
  const flop = 2 * M * K * N * (as.length > 2 ? as[0] : 1);
  const run = () => {
    const c = tf.matMul(a, b, ta, tb);
    c.dataSync();
    c.dispose();
  };
  run();
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    run();
    ms.push(performance.now() - t);
  }
  const med = ms.sort((x, y) => x - y)[Math.floor(ms.length / 2)];
  console.log(
    `${name.padEnd(16)} ${JSON.stringify(as)}${ta ? 'ᵀ' : ''} · ${JSON.stringify(bs)}${tb ? 'ᵀ' : ''}: ${med.toFixed(2)} ms, ${(flop / med / 1e6).toFixed(1)} GFLOP/s`,
  );
  tf.dispose([a, b]);
}
