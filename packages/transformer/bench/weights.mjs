#!/usr/bin/env node
// Loading an official checkpoint and one KV-cached generation pass on wasm: memory and time of
// this build vs a baseline build of @var/transformer (another dist/index.js), in one command.
//
//   node bench/weights.mjs --pth /work/bench-ckpt/d16/var_d16.pth --preset d16 --baseline <old dist/index.js>
//     [--threads 1] [--no-generate] [--json]
//
// Each build runs in its own child process (wasm initialises once per process, and peak RSS is
// per process): load with `loadVAR` (the checkpoint's tensors → variables), then one CFG pair
// (B' = 2) through every scale with random inputs (the transformer's share of a generation; no
// sampling or decoding). Reported: the weights' bytes, RSS / wasm heap / tensor bytes after the
// load, the peak RSS of the load, the seconds of each pass, the heap after the pass; and the
// ratios current / baseline.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runBenchChild } from '../../../tooling/bench-child.mjs';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = `usage: node bench/weights.mjs --pth FILE --preset d16 [--baseline OLD_DIST_INDEX_JS] [--threads 1] [--no-generate] [--json]

Load an official VAR checkpoint with loadVAR on wasm and run one KV-cached pass over all scales
(CFG pair, random inputs), for this build (dist/) and optionally a baseline build, each in a child
process; prints memory after loading, peak RSS, pass time and the ratios. Needs dist/ (pnpm build).`;
const parsed = parseCommand(USAGE, {
  pth: { type: 'string' },
  preset: { type: 'string', default: 'd16' },
  baseline: { type: 'string' },
  threads: { type: 'string', default: '1' },
  'no-generate': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  child: { type: 'string' }, // internal: the dist/index.js to measure
});
const o = parsed.values;
const threads = positiveArg(USAGE, 'threads', o.threads);
const log = (...a) => process.stderr.write(`[weights ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);
const MB = (b) => Math.round(b / 2 ** 20);

async function child(dist) {
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend } = await import('@var/core');
  const T = await import(pathToFileURL(dist).href);
  await initBackend('wasm', { threads });
  const be = tf.backend();
  const heap = () => be.wasm.HEAPU8.buffer.byteLength;
  const cfg = T.varPreset(o.preset);
  const weightBytes = T.countParameters(cfg) * 4;
  const rssBefore = process.memoryUsage().rss; // Node + tfjs + the wasm module, before any weight
  const t0 = performance.now();
  const model = await T.loadVAR(o.pth, cfg);
  const loadS = (performance.now() - t0) / 1000;
  const afterLoad = {
    rss: process.memoryUsage().rss,
    heap: heap(),
    tensors: tf.memory().numBytes,
    peakRss: process.resourceUsage().maxRSS * 1024,
  };
  log(
    dist,
    'loaded in',
    loadS.toFixed(1),
    's: RSS',
    MB(afterLoad.rss),
    'MiB, wasm heap',
    MB(afterLoad.heap),
    'MiB, peak RSS',
    MB(afterLoad.peakRss),
    'MiB',
  );
  let gen = null;
  if (!o['no-generate']) {
    const { beginEnds } = T.deriveConfig(cfg);
    const steps = [];
    const c0 = process.cpuUsage();
    const t1 = performance.now();
    const sess = model.startInference([207, cfg.numClasses]);
    for (let si = 0; si < beginEnds.length; si++) {
      const [b, e] = beginEnds[si];
      const x = si === 0 ? null : tf.randomNormal([2, e - b, cfg.Cvae], 0, 1, 'float32', si);
      const ts = performance.now();
      const lg = sess.step(si, x);
      lg.dataSync();
      steps.push((performance.now() - ts) / 1000);
      tf.dispose([lg, x].filter(Boolean));
      log('scale', si, steps[si].toFixed(2), 's, wasm heap', MB(heap()), 'MiB');
    }
    sess.dispose();
    const c = process.cpuUsage(c0);
    gen = { wallS: (performance.now() - t1) / 1000, cpuS: (c.user + c.system) / 1e6, steps, heapAfter: heap() };
  }
  model.dispose();
  const peakRss = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(
    `${JSON.stringify({ dist, weightBytes, rssBefore, loadS, afterLoad, gen, peakRss, numTensorsAfter: tf.memory().numTensors })}\n`,
  );
}

function measure(dist) {
  log('measuring', dist);
  const r = runBenchChild(fileURLToPath(import.meta.url), [...process.argv.slice(2), '--child', dist], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (!r.result) throw new Error(`child for ${dist} failed (status ${r.status}): ${r.stdout.slice(-2000)}`);
  return r.result;
}

if (o.child) await child(o.child);
else {
  if (!o.pth) {
    process.stderr.write(`--pth is required\n\n${USAGE}\n`);
    process.exit(2);
  }
  const current = measure(resolve(join(here, '..', 'dist', 'index.js')));
  const baseline = o.baseline ? measure(resolve(o.baseline)) : null;
  if (o.json) process.stdout.write(`${JSON.stringify({ current, baseline })}\n`);
  else {
    const row = (name, r) =>
      `${name.padEnd(9)} weights ${MB(r.weightBytes)} MiB, RSS before loading ${MB(r.rssBefore)} MiB | after load: RSS ${MB(r.afterLoad.rss)}, wasm heap ${MB(r.afterLoad.heap)}, tensors ${MB(r.afterLoad.tensors)} MiB; peak RSS of the load ${MB(r.afterLoad.peakRss)} MiB (${(r.afterLoad.peakRss / r.weightBytes).toFixed(2)}× the weights), load ${r.loadS.toFixed(1)} s` +
      (r.gen
        ? ` | pass: ${r.gen.wallS.toFixed(1)} s wall, ${r.gen.cpuS.toFixed(1)} s CPU, heap after ${MB(r.gen.heapAfter)} MiB; steps ${r.gen.steps.map((s) => s.toFixed(2)).join(' ')}`
        : '') +
      ` | peak RSS ${MB(r.peakRss)} MiB`;
    console.log(row('current', current));
    if (baseline) {
      console.log(row('baseline', baseline));
      const ratio = (a, b) => (a / b).toFixed(2);
      console.log(
        `current / baseline: peak RSS of the load ${ratio(current.afterLoad.peakRss, baseline.afterLoad.peakRss)}, load time ${ratio(current.loadS, baseline.loadS)}` +
          (current.gen && baseline.gen
            ? `, pass wall ${ratio(current.gen.wallS, baseline.gen.wallS)}, pass CPU ${ratio(current.gen.cpuS, baseline.gen.cpuS)}, heap after the pass ${ratio(current.gen.heapAfter, baseline.gen.heapAfter)}`
            : ''),
      );
    }
  }
}
