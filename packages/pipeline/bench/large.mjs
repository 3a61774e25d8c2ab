#!/usr/bin/env node
/**
 * The released models at full size on one backend: load an official-format checkpoint pair
 * (e.g. from ../shared/bench/make_official_checkpoint.py 24 DIR) and generate one 256 px image
 * with CFG, sampling the process's memory while it runs. Prints one JSON line: load and
 * generation seconds, peak RSS, the peak of host memory held by JavaScript (V8 heap +
 * ArrayBuffers: the weights must never all be there at once on webgpu), what the backend
 * holds, and whether the image is finite. A benchmark for the note, not a CI test.
 *
 * It first scans the VQVAE file for tensors that hold NaN or ±Infinity (`vaeNonFinite`: their
 * names). make_official_checkpoint.py re-draws only the VQVAE's matrices; the official build
 * leaves its biases uninitialised, so such a file can hold NaN biases, and then the decoded
 * image is NaN in PyTorch as here (on wasm a final clamp turns NaN into -1, on webgpu it stays
 * NaN). `--scan-var` scans the VAR file too (seconds per GB).
 *
 *   node packages/pipeline/bench/large.mjs DEPTH DIR [--backend webgpu|wasm] [--threads N] [--no-generate] [--scan-var] [--shared-aln]
 *
 * make_official_checkpoint.py writes d30 with shared AdaLN (5.5 GB, 1.37 B parameters: load it with
 * --shared-aln); the released var_d30.pth (2.0 B, 8.1 GB) has per-block AdaLN, as the official
 * README trains it (only d36-s uses saln). That layout comes from the same script with shared AdaLN off:
 *   sed 's/shared_aln=depth == 30/shared_aln=False/' ../shared/bench/make_official_checkpoint.py > /tmp/d30.py
 *   VAR_REF=../shared/reference/VAR /usr/bin/python3 /tmp/d30.py 30 DIR
 *
 * Build first (`pnpm build`). On a machine without a GPU, webgpu runs on Mesa's lavapipe
 * (correct, slow); wasm refuses d24 and d30 before reading a weight.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { openStateDict, readTensors } from '@var/checkpoint';
import { initBackend } from '@var/core';
import { disposeModel, loadModel, presetConfig } from '@var/models';
import { generate } from '@var/sampling';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const USAGE = `usage: node packages/pipeline/bench/large.mjs 16|20|24|30 DIR [--backend webgpu|wasm] [--threads 2] [--no-generate] [--scan-var] [--shared-aln]

Loads DIR/vae_ch160v4096z32.pth and DIR/var_dDEPTH.pth (written by make_official_checkpoint.py DEPTH DIR)
on the backend and generates one 256 px image with CFG; prints one JSON line (see the header of this file).
--shared-aln: the VAR file uses shared AdaLN (make_official_checkpoint.py writes d30 so; the released d16-d30
and the presets do not).`;
const { values: o, positionals } = parseCommand(
  USAGE,
  {
    backend: { type: 'string', default: 'webgpu' },
    threads: { type: 'string', default: '2' },
    'no-generate': { type: 'boolean', default: false },
    'scan-var': { type: 'boolean', default: false },
    'shared-aln': { type: 'boolean', default: false },
  },
  { positionals: 2 },
);
const depth = Number(positionals[0]);
const dir = positionals[1];
if (![16, 20, 24, 30].includes(depth)) {
  console.error(`depth must be 16, 20, 24 or 30, got ${positionals[0]}\n\n${USAGE}`);
  process.exit(2);
}
const files = { vae: join(dir, 'vae_ch160v4096z32.pth'), var: join(dir, `var_d${depth}.pth`) };
for (const f of Object.values(files))
  if (!existsSync(f)) throw new Error(`${f} is missing (write it with make_official_checkpoint.py ${depth} ${dir})`);
const backend = o.backend;
const preset = presetConfig(`d${depth}`);
const config = o['shared-aln'] ? { ...preset, var: { ...preset.var, sharedAln: true } } : `d${depth}`;
const threads = positiveArg(USAGE, 'threads', o.threads);

const MiB = 2 ** 20;
const peak = { rss: 0, js: 0 };
const sample = () => {
  const m = process.memoryUsage();
  peak.rss = Math.max(peak.rss, m.rss / MiB);
  peak.js = Math.max(peak.js, (m.heapUsed + m.arrayBuffers) / MiB);
};
const timer = setInterval(sample, 50);

/** Names of the floating-point tensors of a checkpoint that hold NaN or ±Infinity. */
async function nonFiniteTensors(path) {
  const reader = await openStateDict(path);
  const bad = [];
  try {
    for await (const [name, t] of readTensors(reader, reader.entries.keys())) {
      if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) continue;
      const d = t.data;
      let acc = 0;
      for (let i = 0; i < d.length; i++) acc += d[i] * 0; // NaN once any value is NaN or ±Infinity
      if (Number.isNaN(acc)) bad.push(name);
    }
  } finally {
    await reader.close();
  }
  return bad;
}
const scanned = { vaeNonFinite: await nonFiniteTensors(files.vae) };
if (o['scan-var']) scanned.varNonFinite = await nonFiniteTensors(files.var);
sample();

const info = await initBackend(backend, backend === 'wasm' ? { threads } : {});
const out = { depth, backend: info.name, adapter: info.reason, threads: info.threads ?? null, ...scanned };
let t0 = performance.now();
let model;
try {
  let shown = -1;
  model = await loadModel(
    { ...files, config },
    {
      onProgress: (p) => {
        const pct = Math.floor(p.fraction * 10);
        if (pct > shown)
          process.stderr.write(`load ${p.stage} ${(shown = pct) * 10}% at ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
      },
    },
  );
} catch (e) {
  clearInterval(timer);
  console.log(JSON.stringify({ ...out, loaded: false, error: `${e.constructor.name}: ${e.message}`, peakRssMiB: Math.round(peak.rss) }));
  process.exit(0);
}
sample();
out.loadS = (performance.now() - t0) / 1000;
out.params = model.vae.numParameters() + model.var.numParameters();
out.backendMiB = Math.round(tf.memory().numBytes / MiB);
out.afterLoad = { rssMiB: Math.round(peak.rss), jsPeakMiB: Math.round(peak.js) };
if (!o['no-generate']) {
  t0 = performance.now();
  const scaleS = [];
  const r = await generate(model.vae, model.var, {
    labels: [1],
    seed: 0,
    cfg: 1.5,
    topK: 900,
    topP: 0.96,
    onScale: (e) => {
      scaleS.push((performance.now() - t0) / 1000);
      process.stderr.write(`scale ${e.si + 1}/${e.scales} (${e.pn}×${e.pn}) at ${scaleS.at(-1).toFixed(1)} s\n`);
    },
  });
  out.scaleS = scaleS.map((v) => Number(v.toFixed(2)));
  out.generateS = (performance.now() - t0) / 1000;
  const px = await r.images.data();
  out.imageShape = r.images.shape;
  out.imageFinite = px.every(Number.isFinite);
  out.imageMean = px.reduce((a, b) => a + b, 0) / px.length;
  tf.dispose([r.images, r.fHat]);
}
disposeModel(model);
clearInterval(timer);
sample();
out.peakRssMiB = Math.round(peak.rss);
out.jsPeakMiB = Math.round(peak.js);
out.weightsMiB = Math.round((out.params * 4) / MiB);
console.log(JSON.stringify(out));
