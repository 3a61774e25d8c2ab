#!/usr/bin/env node
/**
 * Run (or resume) a training run described by a JSON file:
 *
 *   node packages/train/scripts/train.mjs <config.json> [--run-dir DIR] [--threads N] [--stop-after N] [--backend wasm|cpu]
 *
 * The JSON holds the options of trainTokenizer ({ "kind": "tokenizer", model, dataset, train, seed, settings, evalSamples })
 * ("init": a finished tokenizer run dir or model file to fine-tune from)
 * or trainVAR ({ "kind": "var", tokenizer, model, dataset, train, seed, settings, eval }; "init": a finished VAR run dir
 * or VAR weights file to start from, e.g. a model directory's var.safetensors). Paths in it are relative to
 * the current directory. Re-running the same command resumes from the last checkpoint. SIGINT/SIGTERM write a
 * checkpoint and exit; SIGKILL loses at most the steps since the last checkpoint.
 * Needs the packages built: pnpm turbo run build --filter @var/train...
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const USAGE = `usage: node packages/train/scripts/train.mjs <config.json> [--run-dir DIR] [--threads 1] [--stop-after N] [--backend wasm|cpu]

Runs (or resumes) the training run the JSON describes: { "kind": "tokenizer" | "var", "runDir", model,
dataset, train, seed, settings, … } (the shipped models' configs are in experiments/configs/).`;
const fail = (msg) => {
  process.stderr.write(`${msg}\n\n${USAGE}\n`);
  process.exit(2);
};
let parsed;
try {
  parsed = parseArgs({
    options: {
      'run-dir': { type: 'string' },
      threads: { type: 'string', default: '1' },
      'stop-after': { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
} catch (e) {
  fail(e.message);
}
const { values: o, positionals } = parsed;
if (o.help) {
  console.log(USAGE);
  process.exit(0);
}
if (positionals.length !== 1) fail(`expected one config file, got ${positionals.length}`);
const num = (name) => {
  const n = Number(o[name]);
  if (!Number.isFinite(n)) fail(`--${name} must be a number; got ${JSON.stringify(o[name])}`);
  return n;
};
const threads = num('threads');
const stopAfter = o['stop-after'] !== undefined ? num('stop-after') : undefined;
const backend = o.backend;
const spec = JSON.parse(await readFile(positionals[0], 'utf8'));
const runDir = o['run-dir'] ?? spec.runDir;
if (!runDir) fail('no run directory: set "runDir" in the config or pass --run-dir');
await import('./node-setup.mjs');

const { initBackend } = await import('@var/core');
const train = await import('@var/train');
const info = await initBackend(backend, { threads });
console.log(`[train] ${new Date().toISOString()} backend ${info.name} (${info.reason}); run dir ${runDir}`);

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (controller.signal.aborted) process.exit(130);
    console.log(`[train] ${sig}: stopping after the current step (a checkpoint is written)`);
    controller.abort();
  });
}
let lastPrint = 0;
const onProgress = (e) => {
  const now = Date.now();
  if (e.phase === 'train' && now - lastPrint < 10_000 && e.step !== e.totalSteps) return;
  lastPrint = now;
  console.log(`[train] ${new Date().toISOString()} ${e.message}`);
};
const common = {
  runDir,
  seed: spec.seed,
  settings: spec.settings,
  signal: controller.signal,
  stopAfter,
  onProgress,
  model: spec.model,
  dataset: spec.dataset,
  train: spec.train,
};
const t0 = Date.now();
const result =
  spec.kind === 'var'
    ? await train.trainVAR({
        ...common,
        tokenizer: spec.tokenizer,
        eval: spec.eval,
        tokenCacheDir: spec.tokenCacheDir,
        order: spec.order,
        init: spec.init,
      })
    : await train.trainTokenizer({ ...common, evalSamples: spec.evalSamples, init: spec.init });
console.log(`[train] ${new Date().toISOString()} ${JSON.stringify(result)} (session ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
