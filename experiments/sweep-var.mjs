#!/usr/bin/env node
/**
 * A measured recipe sweep for a class-conditional digit VAR: short runs of variants of one base
 * config (lr, batch, depth/width, label smoothing, …), each trained on its own resumable run dir
 * and then measured with @var/train's evaluateDigitModel (digit accuracy, FID of generated digits
 * in the classifier's features against the held-out split, the ratio to the tokenizer's
 * reconstruction FID, per-class diversity) at each sampling setting of the spec.
 *
 *   node experiments/sweep-var.mjs experiments/configs/mnist-sweep.json [--only a,b] [--threads 1]
 *   node experiments/sweep-var.mjs experiments/configs/mnist-sweep.json --report   (table only)
 *
 * Each variant's result is written to <runs>/<name>/sweep-result.json, so two processes can run
 * disjoint --only lists side by side (one per core); --report collects them into the spec's
 * "report" JSON and prints a Markdown table.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { numberArg, parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/sweep-var.mjs <sweep spec.json> [--only name,name] [--threads 1] [--report]

Trains each variant of the spec ({ base, runs, steps, variants: { name: overrides }, sampling: [...],
perClass, report }) on <runs>/<name> (resumes), then measures it with evaluateDigitModel at each
sampling setting; writes <runs>/<name>/sweep-result.json. --report: only collect the finished
results into the spec's report file and print the table.
`;
const { values: o, positionals } = parseCommand(
  USAGE,
  {
    only: { type: 'string' },
    threads: { type: 'string', default: '1' },
    report: { type: 'boolean', default: false },
  },
  { positionals: 1 },
);
const specPath = positionals[0];
const spec = JSON.parse(await readFile(specPath, 'utf8'));
const base = JSON.parse(await readFile(spec.base, 'utf8'));
const names = o.only ? o.only.split(',') : Object.keys(spec.variants);
for (const n of names)
  if (!spec.variants[n]) throw new Error(`unknown variant ${n}; the spec has ${Object.keys(spec.variants).join(', ')}`);

/** Deep merge of plain objects (arrays and scalars replace). */
function merge(a, b) {
  if (typeof a !== 'object' || a === null || Array.isArray(a) || typeof b !== 'object' || b === null || Array.isArray(b)) return b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in a ? merge(a[k], v) : v;
  return out;
}
const configOf = (name) =>
  merge(merge(base, { runDir: join(spec.runs, name), train: { steps: spec.steps }, settings: spec.settings ?? {} }), spec.variants[name]);

async function writeJson(path, value) {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${path}.tmp`, path);
}

const round = (x, d = 3) => (typeof x === 'number' ? Number(x.toFixed(d)) : x);

async function report() {
  const rows = [];
  for (const name of Object.keys(spec.variants)) {
    try {
      rows.push(JSON.parse(await readFile(join(spec.runs, name, 'sweep-result.json'), 'utf8')));
    } catch {
      // not run yet
    }
  }
  if (spec.report)
    await writeJson(spec.report, { spec: specPath, steps: spec.steps, command: `node experiments/sweep-var.mjs ${specPath}`, rows });
  const lines = [
    '| variant | overrides | params | steps × batch | train s | val loss | sampling (cfg / top-k / top-p) | accuracy | gen FID | FID ratio | diversity |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows)
    for (const q of r.quality)
      lines.push(
        `| ${r.name} | \`${JSON.stringify(r.overrides)}\` | ${r.parameters} | ${r.steps} × ${r.batchSize} | ${round(r.trainSeconds, 0)} | ${round(r.valLoss)} | ${q.sampling.cfg} / ${q.sampling.topK} / ${q.sampling.topP} | ${round(q.genAccuracy)} | ${round(q.genFid, 2)} | ${round(q.fidRatio, 2)} | ${round(q.diversityRatio)} |`,
      );
  console.log(lines.join('\n'));
  return rows;
}

if (o.report) {
  await report();
  process.exit(0);
}

await import('../packages/train/scripts/node-setup.mjs');
const { initBackend } = await import('@var/core');
const train = await import('@var/train');
const { VAR } = await import('@var/transformer');
const { readSafetensors } = await import('@var/checkpoint');
await initBackend('wasm', { threads: numberArg(USAGE, 'threads', o.threads) });

for (const name of names) {
  const cfg = configOf(name);
  const t0 = Date.now();
  let last = 0;
  const result = await train.trainVAR({
    runDir: cfg.runDir,
    seed: cfg.seed,
    settings: cfg.settings,
    model: cfg.model,
    dataset: cfg.dataset,
    train: cfg.train,
    tokenizer: cfg.tokenizer,
    eval: cfg.eval,
    tokenCacheDir: spec.tokenCacheDir,
    onProgress: (e) => {
      if (e.phase !== 'end' && Date.now() - last < 30_000) return;
      last = Date.now();
      console.log(`[sweep ${name}] ${new Date().toISOString()} ${e.message}`);
    },
  });
  if (!result.done) throw new Error(`${name}: run ended ${result.reason} at step ${result.step}`);
  const sf = await readSafetensors(new Uint8Array(await readFile(join(cfg.runDir, 'model.safetensors'))));
  const model = VAR.fromStateDict(JSON.parse(sf.metadata.config), sf.tensors);
  const tok = await train.loadTokenizer(cfg.tokenizer);
  const ds = await train.loadDataset(cfg.dataset);
  const quality = [];
  for (const s of spec.sampling) {
    const q = await train.evaluateDigitModel(tok.vae, model, ds, { perClass: spec.perClass ?? 100, ...s });
    console.log(`[sweep ${name}] ${JSON.stringify(s)} acc ${round(q.genAccuracy)} FID ${round(q.genFid, 2)} ratio ${round(q.fidRatio, 2)}`);
    quality.push(q);
  }
  const parameters = model.numParameters();
  model.dispose();
  tok.vae.dispose();
  await writeJson(join(cfg.runDir, 'sweep-result.json'), {
    name,
    overrides: spec.variants[name],
    parameters,
    steps: cfg.train.steps,
    batchSize: cfg.train.batchSize,
    trainSeconds: result.elapsedSec,
    valLoss: result.lastEval?.valLoss,
    valTokenAcc: result.lastEval?.valTokenAcc,
    quality,
    sessionSeconds: (Date.now() - t0) / 1000,
  });
}
await report();
