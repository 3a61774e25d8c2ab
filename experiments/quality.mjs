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

Measures a model on the held-out split of the dataset in its card: for digit models the digit
classifier's accuracy on reconstructions and on generated digits and FID of both against the
held-out digits (sampling from the card unless --cfg/--top-k/--top-p); for others the
tokenizer's reconstruction PSNR. Prints JSON; --write-card stores it as the card's "quality".
Cheap check: --held-out 20 --per-class 2.
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
// Digit models: the digit classifier's figures (evaluateDigitModel). Other models: reconstruction
// quality of the tokenizer on the held-out split (evalImages: MSE, PSNR, codebook usage).
const q = isDigits
  ? await evaluateDigitModel(m.vae, m.var, ds, {
      ...opts,
      onProgress: (e) => {
        if (Date.now() - last > 5000 || e.done === e.total) {
          last = Date.now();
          process.stderr.write(`[quality] ${e.stage} ${e.done}/${e.total}\n`);
        }
      },
    })
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
  await writeFile(`${cardPath}.tmp`, `${JSON.stringify(card, null, 2)}\n`);
  await rename(`${cardPath}.tmp`, cardPath);
  console.error(`[quality] wrote ${cardPath}`);
}
m.vae.dispose();
m.var.dispose();
