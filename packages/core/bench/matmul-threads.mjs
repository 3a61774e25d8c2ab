#!/usr/bin/env node
// Benchmark: wasm matMul 1024x1024x1024 with 1 thread vs N threads (default N = cores).
// TensorFlow.js initialises the wasm module once per process, so one command drives two
// child processes (one per thread count) and prints both GFLOP/s and the speedup.
//
//   pnpm --filter @var/core bench                     # after `pnpm build`
//   node bench/matmul-threads.mjs --threads 4 --size 1024 --seconds 3
//
// Uses the built package (dist/). Prints one JSON line per child with --json.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runBenchChild } from '../../../tooling/bench-child.mjs';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist', 'index.js');

const USAGE = `usage: node bench/matmul-threads.mjs [--threads N] [--size 1024] [--seconds 2] [--json]

wasm matMul size×size×size with 1 thread and with N threads (default min(cores, 8)), one child
process each; prints GFLOP/s and the speedup (--json: also one JSON line). Needs dist/ (pnpm build).`;
const parsed = parseCommand(USAGE, {
  threads: { type: 'string' },
  size: { type: 'string', default: '1024' },
  seconds: { type: 'string', default: '2' },
  json: { type: 'boolean', default: false },
  child: { type: 'string' }, // internal: run one measurement with this many threads
});
const o = parsed.values;
const num = (name, v) => positiveArg(USAGE, name, v, { integer: false });
const size = num('size', o.size);
const seconds = num('seconds', o.seconds);

async function child(threads) {
  const { initBackend } = await import(pathToFileURL(dist).href);
  const tf = await import('@tensorflow/tfjs-core');
  const info = await initBackend('wasm', { threads });
  const a = tf.randomUniform([size, size], -1, 1, 'float32', 1);
  const b = tf.randomUniform([size, size], -1, 1, 'float32', 2);
  const step = async () => {
    const c = tf.matMul(a, b);
    await c.data();
    c.dispose();
  };
  await step(); // warm-up (XNNPACK packs weights on first use)
  await step();
  let iters = 0;
  const t0 = performance.now();
  while (iters < 3 || performance.now() - t0 < seconds * 1000) {
    await step();
    iters++;
  }
  const ms = (performance.now() - t0) / iters;
  tf.dispose([a, b]);
  const gflops = (2 * size ** 3) / (ms * 1e6);
  process.stdout.write(JSON.stringify({ threads: info.threads, requested: threads, binary: info.wasmBinary, ms, iters, gflops }) + '\n');
}

if (o.child !== undefined) {
  await child(num('child', o.child));
} else {
  if (!existsSync(dist)) {
    console.error(`${dist} not found: run \`pnpm --filter @var/core build\` first.`);
    process.exit(1);
  }
  const n = o.threads !== undefined ? num('threads', o.threads) : Math.min(availableParallelism(), 8);
  const results = [];
  for (const t of [1, n]) {
    const r = runBenchChild(fileURLToPath(import.meta.url), ['--child', String(t), '--size', String(size), '--seconds', String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0 || !r.result) {
      console.error(`child with ${t} thread(s) failed (exit ${r.status})\n${r.stdout}`);
      process.exit(1);
    }
    results.push(r.result);
  }
  const [one, many] = results;
  console.log(`wasm matMul ${size}x${size}x${size} (float32), ${availableParallelism()} cores available`);
  for (const r of results) {
    console.log(
      `  ${String(r.threads).padStart(2)} thread(s) [${r.binary}]: ${r.gflops.toFixed(1).padStart(6)} GFLOP/s  (${r.ms.toFixed(1)} ms/matMul, ${r.iters} runs)`,
    );
  }
  console.log(`  speedup ${many.threads} threads vs 1: ${(many.gflops / one.gflops).toFixed(2)}x`);
  if (o.json) console.log(JSON.stringify({ size, results, speedup: many.gflops / one.gflops }));
}
