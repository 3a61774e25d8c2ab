#!/usr/bin/env node
// Print a Markdown table of the shipped models from their model cards (the figures are the
// ones experiments/quality.mjs measured and wrote into each card):
//   node experiments/cards-table.mjs [--weights packages/models/weights]
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCommand } from './args.mjs';

const USAGE = `
usage: node experiments/cards-table.mjs [--weights DIR]

Prints the Markdown table of the shipped models (the root README's) from the model cards in
DIR (default packages/models/weights): data, shapes, training steps and time, the quality
figures experiments/quality.mjs wrote into each card, size on disk.
`;
const { values: o } = parseCommand(USAGE, { weights: { type: 'string' } });
const root = o.weights ? resolve(o.weights) : fileURLToPath(new URL('../packages/models/weights/', import.meta.url));
const pct = (v) => (v === undefined ? '–' : `${(100 * v).toFixed(1)}%`);
const num = (v, d = 2) => (v === undefined ? '–' : Number(v).toFixed(d));
const min = (s) => (s === undefined ? '–' : `${Math.round(s / 60)} min`);
const rows = [];
for (const id of readdirSync(root).sort()) {
  const cardPath = join(root, id, 'model-card.json');
  if (!existsSync(cardPath)) continue;
  const c = JSON.parse(readFileSync(cardPath, 'utf8'));
  const q = c.quality ?? {};
  const t = c.training ?? {};
  const mb = readdirSync(join(root, id)).reduce((a, f) => a + statSync(join(root, id, f)).size, 0) / 1e6;
  const tk = c.tokenizer.config;
  const v = c.var.config;
  const figures =
    q.genAccuracy !== undefined
      ? `recon: ${pct(q.recAccuracy)} classified right (real ${pct(q.realAccuracy)}), PSNR ${num(q.recPsnr)} dB, FID ${num(q.recFid)}; generated: ${pct(q.genAccuracy)} classified as asked, FID ${num(q.genFid)} (${num(q.fidRatio, 1)}× recon), diversity ${num(q.diversityRatio)} of real (${q.generated} samples, cfg ${q.sampling?.cfg}, top-k ${q.sampling?.topK}, top-p ${q.sampling?.topP})`
      : `recon PSNR ${num(q.psnr)} dB, codebook use ${pct(q.codebookUsage)} (${q.images} held-out images)`;
  rows.push(
    `| \`${id}\` | ${c.dataset.name}, ${c.classNames.length} classes, ${c.imageSize} px × ${c.channels} ch | patch_nums ${tk.vPatchNums.join(',')}, vocab ${tk.vocabSize}, z ${tk.zChannels}; VAR depth ${v.depth} width ${v.embedDim} | ${t.tokenizer?.steps ?? '–'} + ${t.var?.steps ?? '–'} steps, ${min(t.tokenizer?.seconds)} + ${min(t.var?.seconds)} | ${figures} | ${mb.toFixed(1)} MB |`,
  );
}
console.log(
  '| model | data | tokenizer; transformer | training (tokenizer + VAR) | measured quality (held-out split, `quality.mjs`) | size |',
);
console.log('| --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
