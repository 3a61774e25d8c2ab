#!/usr/bin/env node
/**
 * Ship a trained model: write a @var/models model directory (model-card.json, vae.safetensors,
 * var.safetensors in float16) from a finished tokenizer run and VAR run. The card records the
 * data, both configs, the training steps and time (from the runs' logs) and the commands that
 * reproduce the weights. Measure it afterwards with quality.mjs --write-card.
 *
 *   node experiments/export-model.mjs <tokenizer run> <var run> --id mnist --out packages/models/weights/mnist \
 *     [--name "VAR MNIST digits"] [--description …] [--cfg 2] [--top-k 0] [--top-p 0] [--reproduce "cmd" …]
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { numberArg, parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/export-model.mjs <tokenizer run | model dir> <var run> --id ID --out DIR
         [--name NAME] [--description TEXT] [--cfg 2] [--top-k 0] [--top-p 0] [--reproduce "cmd"]… [--from-checkpoint]

Writes a @var/models model directory (model-card.json, vae.safetensors, var.safetensors in
float16) from a finished tokenizer run and VAR run; the card records the data, both configs,
the steps and time of the runs and the --reproduce commands (repeatable). Then measure it with
experiments/quality.mjs --write-card.
`;
const { values: o, positionals } = parseCommand(
  USAGE,
  {
    id: { type: 'string' },
    out: { type: 'string' },
    name: { type: 'string' },
    description: { type: 'string' },
    cfg: { type: 'string', default: '2' },
    'top-k': { type: 'string', default: '0' },
    'top-p': { type: 'string', default: '0' },
    reproduce: { type: 'string', multiple: true, default: [] },
    'from-checkpoint': { type: 'boolean', default: false },
  },
  { positionals: 2 },
);
const [tokRun, varRun] = positionals;
const { out, id } = o;
if (!out || !id) {
  process.stderr.write(`--id and --out are required\n\n${USAGE.trim()}\n`);
  process.exit(2);
}
const sampling = {
  cfg: numberArg(USAGE, 'cfg', o.cfg),
  topK: numberArg(USAGE, 'top-k', o['top-k']),
  topP: numberArg(USAGE, 'top-p', o['top-p']),
};
await (await import('@var/core')).ensureGradients();
const { initBackend } = await import('@var/core');
await initBackend('wasm', { threads: 1 });
const { loadTokenizer, readRunConfig, loadDataset, isDecoderParameter, loadCheckpoint } = await import('@var/train');
const { loadVAR, VAR } = await import('@var/transformer');
const { saveModel } = await import('@var/models');

async function runInfo(dir, fromCheckpoint = false) {
  const lines = (await readFile(join(dir, 'log.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  let end = lines.filter((l) => l.type === 'end' && l.reason === 'done').pop();
  if (!end && fromCheckpoint) {
    // an unfinished run shipped from its last checkpoint (--from-checkpoint): its step and time
    const ck = await loadCheckpoint(join(dir, 'checkpoint.safetensors'));
    const cfg = await readRunConfig(dir);
    end = { step: ck.state.step, elapsedSec: ck.state.elapsedSec, stoppedOf: cfg.train.steps, checkpoint: ck };
  }
  if (!end)
    throw new Error(`${dir}: the run has not finished (no "end … done" line in log.jsonl); --from-checkpoint ships its last checkpoint`);
  const evals = lines.filter((l) => l.type === 'eval');
  const cfg = await readRunConfig(dir);
  return {
    steps: end.step,
    seconds: Math.round(end.elapsedSec),
    batchSize: cfg.train.batchSize,
    lastEval: evals.pop(),
    config: cfg,
    ...(end.stoppedOf ? { stoppedAt: `step ${end.step} of ${end.stoppedOf} (from its last checkpoint)`, checkpoint: end.checkpoint } : {}),
  };
}
// A fine-tuned tokenizer (config "init") counts the runs it started from too.
async function runChain(dir) {
  const info = await runInfo(dir);
  if (info.config.init?.path) {
    const from = await runChain(dirname(info.config.init.path));
    return { ...info, init: from, totalSteps: info.steps + from.totalSteps, totalSeconds: info.seconds + from.totalSeconds };
  }
  return { ...info, totalSteps: info.steps, totalSeconds: info.seconds };
}
// The tokenizer: a finished tokenizer run, or a shipped model directory (its vae.safetensors and the
// tokenizer's training record from its model-card.json: a new VAR trained on a shipped tokenizer).
async function tokenizerInfo(src) {
  const { existsSync } = await import('node:fs');
  if (existsSync(join(src, 'log.jsonl'))) return { ...(await runChain(src)), path: src };
  const cardPath = join(src, 'model-card.json');
  if (!existsSync(cardPath)) throw new Error(`${src}: neither a tokenizer run (log.jsonl) nor a model directory (model-card.json)`);
  const t = JSON.parse(await readFile(cardPath, 'utf8')).training?.tokenizer;
  if (!t) throw new Error(`${cardPath} has no training.tokenizer record`);
  const { initRun, ...rest } = t;
  return {
    totalSteps: t.steps,
    totalSeconds: t.seconds,
    batchSize: t.batchSize,
    config: t.run,
    lastEval: t.lastEval,
    ...(initRun
      ? { init: { totalSteps: initRun.steps, totalSeconds: initRun.seconds, config: initRun.run, lastEval: initRun.lastEval } }
      : {}),
    rest,
    path: join(src, 'vae.safetensors'),
  };
}
// A VAR run started from earlier weights (config "init"): the training those weights had, from
// their run (log.jsonl) or from the model card beside them (a shipped var.safetensors trained further).
async function varInitInfo(cfg) {
  const { existsSync } = await import('node:fs');
  const path = cfg.init?.path;
  if (!path) return undefined;
  const dir = existsSync(join(path, 'log.jsonl')) ? path : dirname(path);
  if (existsSync(join(dir, 'log.jsonl'))) {
    const r = await runInfo(dir);
    const earlier = await varInitInfo(r.config);
    return {
      steps: r.steps + (earlier?.steps ?? 0),
      seconds: r.seconds + (earlier?.seconds ?? 0),
      batchSize: r.batchSize,
      run: r.config,
      lastEval: r.lastEval,
      ...(earlier ? { initRun: earlier } : {}),
    };
  }
  const cardPath = join(dir, 'model-card.json');
  if (!existsSync(cardPath)) throw new Error(`${path} (the VAR run's init): neither in a run directory nor beside a model-card.json`);
  const v = JSON.parse(await readFile(cardPath, 'utf8')).training?.var;
  if (!v) throw new Error(`${cardPath} has no training.var record`);
  return { ...v, sha256: cfg.init.sha256 };
}
const tok = await tokenizerInfo(tokRun);
const vr = await runInfo(varRun, o['from-checkpoint']);
// read before saveModel may overwrite that model directory
const varInit = await varInitInfo(vr.config);
const ds = await loadDataset(vr.config.dataset);
const { vae, hash } = await loadTokenizer(tok.path);
// The VAR was trained on the tokens of vr.config.tokenizer. Another tokenizer file is only
// accepted when it tokenizes identically: a decoder-only fine-tune (train.trainable 'decoder')
// of that tokenizer, i.e. every encoder / quantizer parameter equal.
if (hash !== vr.config.tokenizer.sha256) {
  const { vae: trained } = await loadTokenizer(vr.config.tokenizer.path);
  const a = trained.stateDict();
  const b = vae.stateDict();
  const differ = [...a.keys()].filter((k) => {
    if (isDecoderParameter(k)) return false;
    const x = a.get(k).data;
    const y = b.get(k)?.data;
    return !y || x.length !== y.length || x.some((v, i) => v !== y[i]);
  });
  trained.dispose();
  if (differ.length)
    throw new Error(
      `${tokRun} is not the tokenizer ${varRun} was trained on (${vr.config.tokenizer.path}) nor a decoder-only fine-tune of it: ${differ.slice(0, 5).join(', ')} differ`,
    );
  console.log(
    `tokenizer ${tokRun}: a decoder-only fine-tune of ${vr.config.tokenizer.path} (encoder and codebook identical: the VAR's tokens are unchanged)`,
  );
}
const model = vr.checkpoint
  ? VAR.fromStateDict(vr.config.model, vr.checkpoint.model)
  : await loadVAR(join(varRun, 'model.safetensors'), vr.config.model);
const os = await import('node:os');
const card = await saveModel(out, {
  vae,
  var: model,
  card: {
    id,
    name: o.name ?? id,
    description: o.description,
    dataset: { name: ds.spec.name, images: ds.full.length, trainImages: ds.train.length, heldOutImages: ds.heldOut.length, spec: ds.spec },
    classNames: ds.classNames,
    imageSize: ds.spec.size,
    channels: ds.spec.channels,
    sampling,
    training: {
      tokenizer: {
        steps: tok.totalSteps,
        seconds: tok.totalSeconds,
        batchSize: tok.batchSize,
        run: tok.config,
        lastEval: tok.lastEval,
        ...(tok.init
          ? { initRun: { steps: tok.init.totalSteps, seconds: tok.init.totalSeconds, run: tok.init.config, lastEval: tok.init.lastEval } }
          : {}),
      },
      var: {
        // with an init: the steps and seconds of every run in the chain (initRun: the earlier ones)
        steps: vr.steps + (varInit?.steps ?? 0),
        batchSize: vr.batchSize,
        seconds: vr.seconds + (varInit?.seconds ?? 0),
        run: vr.config,
        lastEval: vr.lastEval,
        ...(vr.stoppedAt ? { stoppedAt: vr.stoppedAt } : {}),
        ...(varInit ? { lastRun: { steps: vr.steps, seconds: vr.seconds }, initRun: varInit } : {}),
      },
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, tfjs wasm backend (Node ${process.version})`,
    },
    reproduce: o.reproduce,
    license: 'MIT',
    createdAt: new Date().toISOString(),
  },
});
console.log(`wrote ${out}: ${card.id}, tokenizer ${vae.numParameters()} params, VAR ${model.numParameters()} params`);
vae.dispose();
model.dispose();
