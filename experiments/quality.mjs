#!/usr/bin/env node
/**
 * Measure a class-conditional digit model (a model directory or a registered id of @var/models)
 * on the held-out split of the dataset in its card, with @var/metrics' digit classifier:
 * accuracy on tokenizer reconstructions, accuracy of generated digits on their requested class,
 * FID (classifier features) of reconstructions and of generated digits against the held-out
 * originals. Prints JSON; --write-card stores it in the card's "quality".
 *
 *   node experiments/quality.mjs packages/models/weights/mnist [--held-out N] [--per-class 100]
 *     [--cfg x] [--top-k k] [--top-p p] [--seed 0] [--threads 2] [--write-card]
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { numberArg, parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/quality.mjs <model dir | id> [--held-out N] [--per-class 100] [--cfg x] [--top-k k]
         [--top-p p] [--seed 0] [--threads 1] [--write-card]
         [--grid cfg/topK/topP[/constant],… [--min-accuracy 0.98]]

Measures a model on the held-out split of the dataset in its card: for digit models the digit
classifier's accuracy on reconstructions and on generated digits and FID of both against the
held-out digits (sampling from the card unless --cfg/--top-k/--top-p), and as references the FID of as
many unpaired training digits and of their reconstructions (what a perfect sampler would get); for others the
tokenizer's reconstruction PSNR. Prints JSON; --write-card stores it as the card's "quality".
Cheap check: --held-out 20 --per-class 2.
--grid (digit models): measure every sampling setting of the list (e.g. 1.5/0/0,2/0/0.95,2/0/0/constant; a fourth
field sets the guidance schedule, linear by default: cfg·si/(S−1) at scale si, or constant) and pick the
one with the lowest generated FID among those with accuracy ≥ --min-accuracy (else the most accurate);
--write-card then also stores it as the card's "sampling" and the whole grid as quality.samplingSweep.
`;
const { values: o, positionals } = parseCommand(
  USAGE,
  {
    'held-out': { type: 'string' },
    'per-class': { type: 'string' },
    cfg: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
    seed: { type: 'string' },
    threads: { type: 'string', default: '1' },
    'write-card': { type: 'boolean', default: false },
    grid: { type: 'string' },
    'min-accuracy': { type: 'string', default: '0.98' },
  },
  { positionals: 1 },
);
const src = positionals[0];
const args = process.argv.slice(2);
await (await import('@var/core')).ensureGradients();
const { initBackend } = await import('@var/core');
const info = await initBackend('wasm', { threads: numberArg(USAGE, 'threads', o.threads) });
const { loadModel } = await import('@var/models');
const { loadDataset, evaluateDigitModel, evalImages } = await import('@var/train');
const m = await loadModel(src);
const spec = m.card.dataset.spec ?? { name: m.card.dataset.name, size: m.card.imageSize };
const ds = await loadDataset(spec);
const num = (n, d) => (o[n.slice(2)] === undefined ? d : numberArg(USAGE, n.slice(2), o[n.slice(2)]));
const opts = {
  heldOut: num('--held-out', ds.heldOut.length),
  perClass: num('--per-class', 100),
  cfg: num('--cfg', m.card.sampling?.cfg ?? 2),
  topK: num('--top-k', m.card.sampling?.topK ?? 0),
  topP: num('--top-p', m.card.sampling?.topP ?? 0),
  seed: num('--seed', 0),
};
let last = 0;
const isDigits = ds.spec.name === 'mnist';
const onProgress = (e) => {
  if (Date.now() - last > 5000 || e.done === e.total) {
    last = Date.now();
    process.stderr.write(`[quality] ${e.stage} ${e.done}/${e.total}\n`);
  }
};
/** "cfg/topK/topP,…" → settings. */
function parseGrid(text) {
  return text.split(',').map((item) => {
    const fields = item.split('/');
    const schedule = fields.length === 4 ? fields.pop() : undefined;
    const parts = fields.map(Number);
    if (
      parts.length !== 3 ||
      parts.some((x) => !Number.isFinite(x)) ||
      (schedule !== undefined && schedule !== 'linear' && schedule !== 'constant')
    ) {
      process.stderr.write(`--grid: "${item}" is not cfg/topK/topP or cfg/topK/topP/linear|constant\n\n${USAGE.trim()}\n`);
      process.exit(2);
    }
    return { cfg: parts[0], topK: parts[1], topP: parts[2], ...(schedule ? { cfgSchedule: schedule } : {}) };
  });
}
let sweep;
let chosen;
let refs; // the reference FIDs (unpaired training digits and their reconstructions): the same for every setting
if (o.grid !== undefined && isDigits) {
  const minAcc = numberArg(USAGE, 'min-accuracy', o['min-accuracy']);
  sweep = [];
  for (const s of parseGrid(o.grid)) {
    const r = await evaluateDigitModel(m.vae, m.var, ds, { ...opts, ...s, referenceFids: sweep.length === 0, onProgress });
    if (sweep.length === 0) refs = { trainRealFid: r.trainRealFid, trainRecFid: r.trainRecFid };
    process.stderr.write(
      `[quality] cfg ${s.cfg}${s.cfgSchedule ? ` (${s.cfgSchedule})` : ''} top-k ${s.topK} top-p ${s.topP}: accuracy ${r.genAccuracy.toFixed(3)}, FID ${r.genFid.toFixed(2)} (${r.fidRatio.toFixed(2)}× recon), diversity ${r.diversityRatio.toFixed(3)}\n`,
    );
    sweep.push(r);
  }
  const ok = sweep.filter((r) => r.genAccuracy >= minAcc);
  chosen = ok.length ? ok.reduce((a, b) => (b.genFid < a.genFid ? b : a)) : sweep.reduce((a, b) => (b.genAccuracy > a.genAccuracy ? b : a));
}
// Digit models: the digit classifier's figures (evaluateDigitModel). Other models: reconstruction
// quality of the tokenizer on the held-out split (evalImages: MSE, PSNR, codebook usage).
const q = chosen
  ? {
      ...chosen,
      ...refs,
      samplingSweep: sweep.map((r) => ({
        ...r.sampling,
        genAccuracy: r.genAccuracy,
        genFid: r.genFid,
        fidRatio: r.fidRatio,
        diversityRatio: r.diversityRatio,
      })),
      samplingRule: `lowest genFid with genAccuracy ≥ ${o['min-accuracy']}`,
    }
  : isDigits
    ? await evaluateDigitModel(m.vae, m.var, ds, { ...opts, referenceFids: true, onProgress })
    : { ...(await evalImages(m.vae, ds, opts.heldOut)), sampling: { cfg: opts.cfg, topK: opts.topK, topP: opts.topP } };
const result = {
  model: src,
  backend: info.name,
  dataset: spec,
  ...q,
  command: `node experiments/quality.mjs ${args.join(' ')}`.trim(),
  measuredAt: new Date().toISOString(),
};
console.log(JSON.stringify(result, null, 2));
if (o['write-card']) {
  const cardPath = join(src, 'model-card.json');
  const card = JSON.parse(await readFile(cardPath, 'utf8'));
  card.quality = result;
  if (chosen) card.sampling = { cfg: chosen.sampling.cfg, topK: chosen.sampling.topK, topP: chosen.sampling.topP };
  await writeFile(`${cardPath}.tmp`, `${JSON.stringify(card, null, 2)}\n`);
  await rename(`${cardPath}.tmp`, cardPath);
  console.error(`[quality] wrote ${cardPath}`);
}
m.vae.dispose();
m.var.dispose();
