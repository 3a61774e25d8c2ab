#!/usr/bin/env node
// Benchmark: VQVAE encode (image → f) and decode (f_hat → image) of the official
// preset `vae_ch160v4096z32` (random weights, batch 1) on cpu and on wasm with 1 and 2
// threads, with the achieved GFLOP/s (convolutions and attention matMuls counted
// analytically by `convFlops`).
//
//   pnpm --filter @var/tokenizer bench            # after `pnpm build`
//   node bench/encode-decode.mjs --size 256 --cpu-size 64 --reps 2
//   node bench/encode-decode.mjs --quick          # wasm at 64 px, cpu at 32 px (smoke test)
//
// The cpu backend (~1 GFLOP/s) needs ~15 minutes at 256 px, so by default it runs at
// 32 px (pass --cpu-size 256 to change it); the output says which size each row used.
// TensorFlow.js initialises wasm once per process: every backend runs in a child process.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runBenchChild } from '../../../tooling/bench-child.mjs';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist', 'index.js');

const USAGE = `usage: node bench/encode-decode.mjs [--size 256] [--cpu-size 32] [--reps 1] [--quick] [--json]

VQVAE vae_ch160v4096z32 encode and decode (random weights, batch 1) on wasm with 1 and 2
threads at --size px and on cpu at --cpu-size px, one child process each, with GFLOP/s.
--quick: wasm at 64 px, cpu at 32 px. Needs dist/ (pnpm build).`;
const parsed = parseCommand(USAGE, {
  size: { type: 'string' },
  'cpu-size': { type: 'string' },
  reps: { type: 'string', default: '1' },
  quick: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  // internal: one measurement in a child process
  child: { type: 'boolean', default: false },
  backend: { type: 'string', default: 'wasm' },
  threads: { type: 'string', default: '1' },
  px: { type: 'string' },
});
const o = parsed.values;
const positive = (name, v) => positiveArg(USAGE, name, v);
const quick = o.quick;
const size = o.size !== undefined ? positive('size', o.size) : quick ? 64 : 256;
const cpuSize = o['cpu-size'] !== undefined ? positive('cpu-size', o['cpu-size']) : Math.min(32, size);
const reps = positive('reps', o.reps);

async function child(backend, threads, px) {
  const { VQVAE, convFlops } = await import(pathToFileURL(dist).href);
  const { initBackend } = await import('@var/core');
  const tf = await import('@tensorflow/tfjs-core');
  const info = await initBackend(backend, backend === 'wasm' ? { threads } : {});
  const t0 = performance.now();
  const vae = VQVAE.create('vae_ch160v4096z32', { seed: 0 });
  const initMs = performance.now() - t0;
  const img = tf.randomUniform([1, 3, px, px], -1, 1, 'float32', 1);
  const time = async (fn) => {
    const out = fn();
    await out.data(); // warm-up (XNNPACK packs weights on first use)
    out.dispose();
    const t = performance.now();
    for (let i = 0; i < reps; i++) {
      const o = fn();
      await o.data();
      o.dispose();
    }
    return (performance.now() - t) / reps;
  };
  const encMs = await time(() => vae.encode(img));
  const f = vae.encode(img);
  const decMs = await time(() => vae.fhatToImg(f));
  const flops = convFlops(vae.config, px, px);
  tf.dispose([img, f]);
  vae.dispose();
  const r = {
    backend,
    threads: info.threads ?? 1,
    binary: info.wasmBinary,
    px,
    params: 108948355,
    initMs,
    encMs,
    decMs,
    encGflop: flops.encoder / 1e9,
    decGflop: flops.decoder / 1e9,
    encGflops: flops.encoder / (encMs * 1e6),
    decGflops: flops.decoder / (decMs * 1e6),
  };
  process.stdout.write(JSON.stringify(r) + '\n');
}

if (o.child) {
  await child(o.backend, positive('threads', o.threads), o.px !== undefined ? positive('px', o.px) : size);
} else {
  if (!existsSync(dist)) {
    console.error(`${dist} not found: run \`pnpm --filter @var/tokenizer... build\` (or \`pnpm build\`) first.`);
    process.exit(1);
  }
  const runs = [
    ['wasm', 1, size],
    ['wasm', 2, size],
    ['cpu', 1, cpuSize],
  ];
  const results = [];
  for (const [backend, threads, px] of runs) {
    const r = runBenchChild(
      fileURLToPath(import.meta.url),
      ['--child', '--backend', backend, '--threads', String(threads), '--px', String(px), '--reps', String(reps)],
      { stdio: ['ignore', 'pipe', 'inherit'], cwd: join(here, '..') },
    );
    if (r.status !== 0 || !r.result) {
      console.error(`${backend} (${threads} thread(s)) failed (exit ${r.status})\n${r.stdout}`);
      process.exit(1);
    }
    results.push(r.result);
  }
  console.log(`VQVAE vae_ch160v4096z32 (random weights, batch 1), ${availableParallelism()} cores, ${reps} timed run(s) after a warm-up`);
  for (const r of results) {
    const label = r.backend === 'wasm' ? `wasm ${r.threads} thread(s) [${r.binary}]` : r.backend;
    const note =
      r.px !== size
        ? `  (at ${r.px} px: ${r.backend} at ${size} px would take ~${(((r.encMs + r.decMs) * (size / r.px) ** 2) / 60000).toFixed(0)} min)`
        : '';
    console.log(
      `  ${label.padEnd(32)} ${r.px}px  encode ${r.encMs.toFixed(0).padStart(7)} ms (${r.encGflop.toFixed(1)} GFLOP, ${r.encGflops.toFixed(1)} GFLOP/s)` +
        `  decode ${r.decMs.toFixed(0).padStart(7)} ms (${r.decGflop.toFixed(1)} GFLOP, ${r.decGflops.toFixed(1)} GFLOP/s)${note}`,
    );
  }
  const [w1, w2] = results;
  console.log(`  wasm 2 threads vs 1: encode ${(w1.encMs / w2.encMs).toFixed(2)}x, decode ${(w1.decMs / w2.decMs).toFixed(2)}x`);
  if (o.json) console.log(JSON.stringify({ size, cpuSize, reps, results }));
}
