#!/usr/bin/env node
// Soak test of `generate`: N generations (default 1,000) of the fixture case's models in one
// process. Checks that tf.memory().numTensors is the same after every generation and reports the
// process RSS at the start, after 100 and at the end (plus the tfjs byte count and timings).
//
//   pnpm turbo run build --filter=@var/sampling...   # the script uses the built dist
//   node experiments/soak.mjs [--n 1000] [--backend wasm|cpu] [--decode-every 25] [--max-rss-growth 64] [--json]
//
// The fixture case comes from VAR_FIXTURE_DIR (default ../shared/fixtures/<case> beside the repo
// root, as for the tests). Every generation uses another seed and cycles through cfg, top-k,
// top-p and "more smooth"; every `--decode-every`-th also decodes the image and streams previews
// (the decoder dominates the time). Exits 1 when the tensor count moves or the RSS grows by more
// than --max-rss-growth MiB (default 64) between generation 100 and the end.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberArg, parseCommand } from './args.mjs';
import { soakGenerateOptions } from '../tooling/soak-options.mjs';

const USAGE = `
usage: node experiments/soak.mjs [--n 1000] [--backend wasm|cpu] [--decode-every 25] [--max-rss-growth 64] [--json]

N generations of the fixture case's models (VAR_FIXTURE_DIR, default ../shared/fixtures/var-tiny) in
one process, cycling through sampling options; every --decode-every-th also decodes. Reports the
tensor count, RSS and timings; exits 1 when the tensor count moves or the RSS grows by more than
--max-rss-growth MiB between generation 100 and the end. Needs the packages built.
`;
const { values: o } = parseCommand(USAGE, {
  n: { type: 'string', default: '1000' },
  backend: { type: 'string', default: 'wasm' },
  'decode-every': { type: 'string', default: '25' },
  'max-rss-growth': { type: 'string', default: '64' },
  json: { type: 'boolean', default: false },
});
const here = dirname(fileURLToPath(import.meta.url));
const N = numberArg(USAGE, 'n', o.n);
const backend = o.backend;
const decodeEvery = numberArg(USAGE, 'decode-every', o['decode-every']);
const maxGrowth = numberArg(USAGE, 'max-rss-growth', o['max-rss-growth']);
const json = o.json;
const repo = resolve(here, '..');
const fixtureDir = process.env.VAR_FIXTURE_DIR
  ? resolve(repo, process.env.VAR_FIXTURE_DIR)
  : resolve(repo, '..', 'shared', 'fixtures', 'var-tiny');

const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { loadStateDict } = await import('@var/checkpoint');
const { VQVAE, fromOfficialConfig: vqvaeConfig } = await import('@var/tokenizer');
const { VAR, fromOfficialConfig: varConfig } = await import('@var/transformer');
const { generate } = await import('@var/sampling');

await initBackend(backend, backend === 'wasm' ? { threads: 1 } : {});
const config = JSON.parse(readFileSync(join(fixtureDir, 'config.json'), 'utf8'));
const vae = VQVAE.fromStateDict(await loadStateDict(join(fixtureDir, 'vae.safetensors')), vqvaeConfig(config.VQVAE));
const model = VAR.fromStateDict(varConfig(config.VAR, config.VQVAE), await loadStateDict(join(fixtureDir, 'var.safetensors')));
const numClasses = config.VAR.num_classes;
const labels = Array.from({ length: config.batch ?? 2 }, (_, i) => (i * 3) % (numClasses + 1));

const mib = (b) => Math.round((b / 2 ** 20) * 10) / 10;
const sample = (i) => ({
  after: i,
  rssMiB: mib(process.memoryUsage().rss),
  tfBytesMiB: mib(tf.memory().numBytes),
  numTensors: tf.memory().numTensors,
});
const base = tf.memory().numTensors;
const points = [sample(0)];
if (!json)
  console.log(`start: rss ${points[0].rssMiB} MiB, tf ${points[0].tfBytesMiB} MiB in ${points[0].numTensors} tensors (models loaded)`);
let moved = 0;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const full = decodeEvery > 0 && i % decodeEvery === 0;
  const r = await generate(vae, model, soakGenerateOptions(i, labels, full));
  tf.dispose([r.fHat, ...(r.images ? [r.images] : [])]);
  if (tf.memory().numTensors !== base) moved++;
  if (i + 1 === 100 || i + 1 === N || (i + 1) % 250 === 0) {
    points.push(sample(i + 1));
    if (!json)
      console.log(
        `after ${i + 1}: rss ${points.at(-1).rssMiB} MiB, tf ${points.at(-1).tfBytesMiB} MiB in ${points.at(-1).numTensors} tensors, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
  }
}
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage();
vae.dispose();
model.dispose();
const at100 = points.find((p) => p.after === 100) ?? points[0];
const growth = points.at(-1).rssMiB - at100.rssMiB;
const report = {
  generations: N,
  backend: tf.getBackend(),
  labelsPerCall: labels.length,
  decodeEvery,
  seconds: Math.round(seconds * 10) / 10,
  cpuSeconds: Math.round((cpu.user + cpu.system) / 1e5) / 10,
  msPerGeneration: Math.round((seconds * 1000) / N),
  baseTensors: base,
  callsThatMovedTheTensorCount: moved,
  rss: points,
  rssGrowthAfter100MiB: Math.round(growth * 10) / 10,
};
console.log(
  json
    ? JSON.stringify(report, null, 2)
    : `${N} generations in ${report.seconds} s wall, ${report.cpuSeconds} s CPU for the whole process (${report.msPerGeneration} ms wall each); tensor count moved after ${moved} call(s); RSS growth after generation 100: ${report.rssGrowthAfter100MiB} MiB`,
);
if (moved > 0 || growth > maxGrowth) process.exit(1);
