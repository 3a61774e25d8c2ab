#!/usr/bin/env node
// Attention formulations of the VAR transformer on the wasm backend, d16 shapes at 256px
// (L = 680, 16 heads × 64, batch 2 = one CFG pair), 1 thread vs N threads.
//
//   pnpm --filter @var/transformer build && pnpm --filter @var/transformer bench
//   node bench/attention.mjs --threads 2 [--no-model] [--no-micro] [--quick] [--reps 3]
//
// Part 1 times `attend()` alone: per scale of KV-cached inference (queries of the scale against
// all keys so far) and the full teacher-forced pass with the block-causal mask; GFLOP/s counts the
// useful products only (4·B·H·hd·Σ visible query-key pairs).
// Part 2 runs a whole d16 (random official init): per-scale KV-cached steps of a CFG batch
// (B' = 2) and one teacher-forced forward at batch 2, and reports peak RSS.
// TensorFlow.js initialises wasm once per process, so every thread count runs in a child process.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runBenchChild } from '../../../tooling/bench-child.mjs';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, '..', 'dist', 'index.js');
const USAGE = `usage: node bench/attention.mjs [--threads 2] [--reps 3] [--no-model] [--no-micro] [--quick] [--json]

Attention alone (per KV-cached scale and teacher-forced, d16 shapes at 256 px, batch 2) and a
whole random d16 (per-scale KV-cached steps, one forward, peak RSS) on wasm with 1 and N
threads, one child process each. --quick: one attention implementation. Needs dist/ (pnpm build).`;
const FLAGS = ['no-model', 'no-micro', 'quick'];
const parsed = parseCommand(USAGE, {
  threads: { type: 'string', default: '2' },
  reps: { type: 'string', default: '3' },
  json: { type: 'boolean', default: false },
  ...Object.fromEntries(FLAGS.map((f) => [f, { type: 'boolean', default: false }])),
  child: { type: 'string' }, // internal: one measurement with this many threads
});
const o = parsed.values;
const positive = (name, v) => positiveArg(USAGE, name, v);
const reps = positive('reps', o.reps);
const withModel = !o['no-model'];
const withMicro = !o['no-micro'];
const log = (...a) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`);

async function child(threads) {
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend } = await import('@var/core');
  const { attend, varPreset, deriveConfig, VAR } = await import(pathToFileURL(dist).href);
  const info = await initBackend('wasm', { threads });
  const cfg = varPreset('d16');
  const { beginEnds, L, headDim: hd } = deriveConfig(cfg);
  const H = cfg.numHeads;
  const B = 2;
  // Wall time and process CPU time (this machine is shared: with 1 thread, CPU time is the
  // uncontended cost; with N threads the wall time is what counts).
  const time = (fn) => {
    tf.dispose(fn()); // warm-up
    const ts = [];
    const cs = [];
    for (let r = 0; r < reps; r++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const out = fn();
      out.dataSync();
      ts.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cs.push((c.user + c.system) / 1000);
      tf.dispose(out);
    }
    ts.sort((a, b) => a - b);
    cs.sort((a, b) => a - b);
    return { ms: ts[Math.floor(ts.length / 2)], cpuMs: cs[Math.floor(cs.length / 2)] };
  };
  const rows = [];
  // --- per scale (KV-cached inference pattern)
  for (let si = 0; withMicro && si < beginEnds.length; si++) {
    log('micro per-scale', si);
    const [b, e] = beginEnds[si];
    const q = tf.randomNormal([B, H, e - b, hd], 0, 1, 'float32', 1);
    const k = tf.randomNormal([B, H, e, hd], 0, 1, 'float32', 2);
    const v = tf.randomNormal([B, H, e, hd], 0, 1, 'float32', 3);
    const flop = 4 * B * H * hd * (e - b) * e;
    for (const impl of ['batched', 'perHead']) {
      const { ms, cpuMs } = time(() => attend(q, k, v, 1, { blocks: null, kvOffset: 0 }, impl));
      rows.push({
        part: 'per-scale',
        si,
        pn: Math.sqrt(e - b),
        Lq: e - b,
        Lk: e,
        impl,
        ms,
        cpuMs,
        gflops: flop / ms / 1e6,
        gflopsCpu: flop / cpuMs / 1e6,
      });
    }
    tf.dispose([q, k, v]);
  }
  // --- full teacher-forced pass, block-causal mask
  if (withMicro) {
    log('micro full');
    const q = tf.randomNormal([B, H, L, hd], 0, 1, 'float32', 1);
    const k = tf.randomNormal([B, H, L, hd], 0, 1, 'float32', 2);
    const v = tf.randomNormal([B, H, L, hd], 0, 1, 'float32', 3);
    let pairs = 0;
    for (const [b, e] of beginEnds) pairs += (e - b) * e;
    const flop = 4 * B * H * hd * pairs;
    for (const impl of ['batched', 'perHead', 'perHeadBlocks', 'auto']) {
      const { ms, cpuMs } = time(() => attend(q, k, v, 1, { blocks: beginEnds, kvOffset: 0 }, impl));
      rows.push({ part: 'full', Lq: L, Lk: L, impl, ms, cpuMs, gflops: flop / ms / 1e6, gflopsCpu: flop / cpuMs / 1e6 });
    }
    tf.dispose([q, k, v]);
  }
  let model = null;
  if (withModel) {
    log('creating d16');
    const t0 = performance.now();
    const m = VAR.create(cfg, { seed: 0 });
    log('created', m.numParameters(), 'parameters, RSS', (process.memoryUsage().rss / 1e6).toFixed(0), 'MB');
    const initS = (performance.now() - t0) / 1000;
    const steps = [];
    for (const impl of o.quick ? ['auto'] : ['auto', 'batched']) {
      m.attentionImpl = impl;
      const sess = m.startInference([207, cfg.numClasses]); // one CFG pair: cond + uncond
      for (let si = 0; si < beginEnds.length; si++) {
        const [b, e] = beginEnds[si];
        const x = si === 0 ? null : tf.randomNormal([2, e - b, cfg.Cvae], 0, 1, 'float32', si);
        const c1 = process.cpuUsage();
        const t1 = performance.now();
        const lg = sess.step(si, x);
        lg.dataSync();
        log('step', impl, si, 'RSS', (process.memoryUsage().rss / 1e6).toFixed(0), 'MB');
        const c = process.cpuUsage(c1);
        steps.push({ impl, si, ms: performance.now() - t1, cpuMs: (c.user + c.system) / 1000 });
        tf.dispose([lg, x].filter(Boolean));
      }
      sess.dispose();
    }
    m.attentionImpl = 'auto';
    const x = tf.randomNormal([2, L - 1, cfg.Cvae], 0, 1, 'float32', 9);
    const c2 = process.cpuUsage();
    const t2 = performance.now();
    const logits = m.forward([207, cfg.numClasses], x);
    logits.dataSync();
    const fwdMs = performance.now() - t2;
    const c = process.cpuUsage(c2);
    const fwdCpuMs = (c.user + c.system) / 1000;
    tf.dispose([x, logits]);
    m.dispose();
    model = { initS, steps, fwdMs, fwdCpuMs, numTensorsAfter: tf.memory().numTensors };
  }
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(
    JSON.stringify({ threads: info.threads, requested: threads, binary: info.wasmBinary, rows, model, maxRssMB }) + '\n',
  );
}

function table(r) {
  const out = [];
  out.push(`\n=== wasm, ${r.threads} thread(s) (${r.binary}) ===`);
  out.push('attention alone, KV-cached inference (queries of one scale vs all keys so far), B=2 H=16 hd=64:');
  out.push('  (wall ms / CPU ms of this process; GFLOP/s from wall time, and from CPU time in brackets)');
  out.push('  si  pn   Lq   Lk |          batched: wall / cpu ms   GFLOP/s |          perHead: wall / cpu ms   GFLOP/s | speedup (cpu)');
  const per = r.rows.filter((x) => x.part === 'per-scale');
  const f = (x) =>
    `${x.ms.toFixed(2).padStart(9)} / ${x.cpuMs.toFixed(2).padStart(9)} ${x.gflops.toFixed(2).padStart(7)} (${x.gflopsCpu.toFixed(2).padStart(6)})`;
  for (let i = 0; i < per.length; i += 2) {
    const a = per[i],
      b = per[i + 1];
    out.push(
      `  ${String(a.si).padStart(2)} ${String(a.pn).padStart(3)} ${String(a.Lq).padStart(4)} ${String(a.Lk).padStart(4)} | ${f(a)} | ${f(b)} | ${(a.cpuMs / b.cpuMs).toFixed(1)}x`,
    );
  }
  out.push('attention alone, teacher-forced L=680 with the block-causal mask (useful FLOPs):');
  for (const x of r.rows.filter((x) => x.part === 'full')) out.push(`  ${x.impl.padEnd(14)} ${f(x)}`);
  if (r.model) {
    out.push(`whole d16 (random official init, ${r.model.initS.toFixed(1)} s to initialise), CFG pair B'=2, KV-cached steps:`);
    const impls = [...new Set(r.model.steps.map((s) => s.impl))];
    out.push('  si ' + impls.map((i) => `${i.padStart(12)} wall / cpu ms`).join(' '));
    const g = (s) => (s ? `${s.ms.toFixed(1).padStart(9)} / ${s.cpuMs.toFixed(1).padStart(9)}` : '');
    for (let si = 0; si < 10; si++)
      out.push(
        `  ${String(si).padStart(2)} ` + impls.map((i) => g(r.model.steps.find((s) => s.impl === i && s.si === si)).padStart(26)).join(' '),
      );
    out.push(
      '  total ' +
        impls
          .map(
            (i) =>
              `${i}: ${(r.model.steps.filter((s) => s.impl === i).reduce((a, s) => a + s.ms, 0) / 1000).toFixed(2)} s wall, ${(r.model.steps.filter((s) => s.impl === i).reduce((a, s) => a + s.cpuMs, 0) / 1000).toFixed(2)} s cpu`,
          )
          .join('; '),
    );
    out.push(
      `  teacher-forced forward, batch 2, L=680 (auto): ${(r.model.fwdMs / 1000).toFixed(2)} s wall, ${(r.model.fwdCpuMs / 1000).toFixed(2)} s cpu`,
    );
  }
  out.push(`peak RSS: ${r.maxRssMB.toFixed(0)} MB`);
  return out.join('\n');
}

if (o.child !== undefined) {
  await child(positive('child', o.child));
} else {
  if (!existsSync(dist)) {
    console.error(`${dist} not found: run \`pnpm --filter @var/transformer build\` first.`);
    process.exit(1);
  }
  const n = positive('threads', o.threads);
  const extra = FLAGS.filter((f) => o[f]).map((f) => `--${f}`);
  for (const t of [...new Set([1, n])]) {
    const r = runBenchChild(fileURLToPath(import.meta.url), ['--child', String(t), ...extra, '--reps', String(reps)], {
      maxBuffer: 1 << 26,
    });
    if (r.status !== 0 || !r.result) {
      console.error(`child with ${t} thread(s) failed (status ${r.status}):\n${r.stderr.slice(-3000)}`);
      process.exitCode = 1;
      continue;
    }
    const res = r.result;
    console.log(table(res));
    if (o.json) console.log(line);
  }
}
