#!/usr/bin/env node
/**
 * Measure a class-conditional digit model (a model directory or a registered id of @var/models)
 * on the held-out split of the dataset in its card, with @var/metrics' digit classifier:
 * accuracy on tokenizer reconstructions, accuracy of generated digits on their requested class,
 * FID (classifier features) of reconstructions and of generated digits against the held-out
 * originals. Prints JSON; --write-card stores it in the card's "quality".
 *
 *   node packages/train/scripts/quality.mjs packages/models/weights/mnist [--held-out N] [--per-class 100]
 *     [--cfg x] [--top-k k] [--top-p p] [--seed 0] [--threads 2] [--write-card]
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
await import('./node-setup.mjs');
const args = process.argv.slice(2);
const flag = (n, d) => (args.includes(n) ? args[args.indexOf(n) + 1] : d);
const src = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
if (!src) { console.error('usage: quality.mjs <model dir | id> [--held-out N] [--per-class N] [--cfg x] [--top-k k] [--top-p p] [--seed s] [--threads n] [--write-card]'); process.exit(2); }
const { initBackend } = await import('@var/core');
const info = await initBackend('wasm', { threads: Number(flag('--threads', '1')) });
const { loadModel } = await import('@var/models');
const { loadDataset, evaluateDigitModel, evalImages } = await import('@var/train');
const m = await loadModel(src);
const spec = m.card.dataset.spec ?? { name: m.card.dataset.name, size: m.card.imageSize };
const ds = await loadDataset(spec);
const num = (n, d) => (flag(n) === undefined ? d : Number(flag(n)));
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
        if (Date.now() - last > 5000 || e.done === e.total) { last = Date.now(); process.stderr.write(`[quality] ${e.stage} ${e.done}/${e.total}\n`); }
      },
    })
  : { ...(await evalImages(m.vae, ds, opts.heldOut)), sampling: { cfg: opts.cfg, topK: opts.topK, topP: opts.topP } };
const result = { model: src, backend: info.name, dataset: spec, ...q, command: `node packages/train/scripts/quality.mjs ${args.join(' ')}`.trim(), measuredAt: new Date().toISOString() };
console.log(JSON.stringify(result, null, 2));
if (args.includes('--write-card')) {
  const cardPath = join(src, 'model-card.json');
  const card = JSON.parse(await readFile(cardPath, 'utf8'));
  card.quality = result;
  await writeFile(`${cardPath}.tmp`, `${JSON.stringify(card, null, 2)}\n`);
  await rename(`${cardPath}.tmp`, cardPath);
  console.error(`[quality] wrote ${cardPath}`);
}
m.vae.dispose();
m.var.dispose();
