#!/usr/bin/env node
/**
 * var.ts example — fine-tune a VAR model on a folder of your images.
 *
 * The folder holds one sub-folder per class, named by the class id ("3") or by one of the
 * model's class names; a flat folder of images needs `--label N` (N = the model's number
 * of classes is the unconditional class). Every image is brought to the model's size and
 * channels, tokenized with the model's own tokenizer (multi-scale tokens = the targets,
 * f̂-derived teacher-forcing input = the transformer's input), and the transformer is
 * trained for a few steps with @var/transformer's VARTrainer (the official AdamW, lr
 * schedule, gradient clipping, label smoothing and label dropout; the label smoothing is the
 * base model's own recipe from its card, 0.1 when the card has none). The tokenizer is kept as
 * it is. The result is written with @var/models' saveModel, so every tool of var.ts loads
 * it (`loadModel(dir)`, `var generate --model DIR`).
 *
 *   node examples/finetune-folder/main.mjs FOLDER [--model mnist|DIR] [--steps 20] [--batch 8]
 *        [--lr 3e-4] [--label-smoothing S] [--seed 0] [--label N] [--dtype F16|F32] [--out DIR]
 *
 * Without a folder it fine-tunes on a demo folder it writes: 16 MNIST digits of classes 3
 * and 7 under examples/finetune-folder/out/demo-folder.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ValueError, initBackend } from '@var/core';
import { imageFolderDataset, imagesToTensor, permutation, writePng } from '@var/data';
import { mnistDataset } from '@var/datasets';
import { disposeModel, loadModel, saveModel } from '@var/models';
import { VARTrainer, valLoss } from '@var/transformer';

const here = dirname(fileURLToPath(import.meta.url));

/** Class id of each folder class: a number in [0, numClasses] or one of the card's class names. */
export function classIds(folderClasses, card, numClasses) {
  return folderClasses.map((name) => {
    if (/^\d+$/.test(name) && Number(name) <= numClasses) return Number(name);
    const i = card.classNames.indexOf(name);
    if (i >= 0) return i;
    throw new ValueError(
      `class folder "${name}" names no class of the model: use a class id 0…${numClasses - 1} (${numClasses} = unconditional) or one of ${card.classNames.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  });
}

/**
 * Tokenize the folder: per image its class id, its tokens of every scale concatenated (L)
 * and the transformer's teacher-forcing input (L − pn₀², Cvae).
 */
export async function tokenizeFolder(vae, folder, { numClasses, card, label }) {
  const ds = await imageFolderDataset(folder);
  let ids;
  if (ds.layout === 'classes') ids = classIds(ds.classNames, card, numClasses);
  else if (label === undefined) throw new ValueError(`${folder} has no class sub-folders: pass --label N for its images`);
  const channels = vae.config.inChannels;
  const size = vae.imageSize;
  const n = ds.length;
  const labels = new Int32Array(n);
  let gt = null; // (n, L) int32
  let xin = null; // (n, L − first, Cvae) float32
  let L = 0;
  let rest = 0;
  const B = 16;
  for (let b0 = 0; b0 < n; b0 += B) {
    const idx = Array.from({ length: Math.min(B, n - b0) }, (_, k) => b0 + k);
    const imgs = await Promise.all(idx.map((i) => ds.get(i)));
    const x = imagesToTensor(imgs, { channels, size }); // (b, C, size, size) in [-1, 1]
    const tokens = vae.imgToIdx(x); // per scale (b, pn²)
    const gtB = tf.concat(tokens, 1); // (b, L)
    const inB = vae.idxToVarInput(tokens); // (b, L − first, Cvae)
    L = gtB.shape[1];
    rest = inB.shape[1] * inB.shape[2];
    gt ??= new Int32Array(n * L);
    xin ??= new Float32Array(n * rest);
    gt.set(await gtB.data(), b0 * L);
    xin.set(await inB.data(), b0 * rest);
    tf.dispose([x, gtB, inB, ...tokens]);
    for (const i of idx) labels[i] = ds.layout === 'classes' ? ids[ds.labels[i]] : Number(label);
  }
  const Cvae = vae.config.zChannels;
  return { n, L, labels, gt, xin, inShape: [rest / Cvae, Cvae], classNames: ds.classNames, skipped: ds.skipped };
}

/** Rows `idx` of the tokenized folder as a batch. */
function batchOf(data, idx) {
  const { L, gt, xin, inShape, labels } = data;
  const rest = inShape[0] * inShape[1];
  const g = new Int32Array(idx.length * L);
  const x = new Float32Array(idx.length * rest);
  idx.forEach((i, k) => {
    g.set(gt.subarray(i * L, (i + 1) * L), k * L);
    x.set(xin.subarray(i * rest, (i + 1) * rest), k * rest);
  });
  return { labels: Int32Array.from(idx, (i) => labels[i]), gt: g, x: tf.tensor3d(x, [idx.length, ...inShape]) };
}

/** Mean cross-entropy of the tokens of the whole folder (no label dropout, no smoothing). */
export function folderLoss(model, data) {
  let sum = 0;
  for (let b0 = 0; b0 < data.n; b0 += 16) {
    const idx = Array.from({ length: Math.min(16, data.n - b0) }, (_, k) => b0 + k);
    const b = batchOf(data, idx);
    const loss = tf.tidy(() => valLoss(model.forward(b.labels, b.x, { training: false }), b.gt).dataSync()[0]);
    b.x.dispose();
    sum += loss * idx.length;
  }
  return sum / data.n;
}

/** Write a demo folder: `perClass` MNIST digits of each class in `classes`, padded to `size` when it is larger than 28. */
export async function writeDemoFolder(dir, { classes = [3, 7], perClass = 8, size = 28 } = {}) {
  const ds = await mnistDataset({ padTo: Math.max(28, size) });
  for (const c of classes) {
    mkdirSync(join(dir, String(c)), { recursive: true });
    let k = 0;
    for (let i = 0; i < ds.length && k < perClass; i++) {
      if (ds.labels[i] !== c) continue;
      await writePng(join(dir, String(c), `${i}.png`), await ds.get(i));
      k++;
    }
  }
  return dir;
}

/**
 * Label smoothing the base model was trained with (its card's `training.var.run.train`), or
 * undefined. Fine-tuning with another one moves the whole distribution: a model trained
 * without smoothing, fine-tuned with 0.1, gets a higher (unsmoothed) token loss.
 */
export function recipeLabelSmoothing(card) {
  const v = card?.training?.var?.run?.train?.labelSmoothing;
  return typeof v === 'number' && v >= 0 && v < 1 ? v : undefined;
}

export async function run(folder, opts = {}) {
  const backend = await initBackend(opts.backend ?? 'auto', opts.threads ? { threads: Number(opts.threads) } : {});
  const src = opts.model ?? 'mnist';
  const m = await loadModel(existsSync(src) ? resolve(src) : src);
  const t0 = performance.now();
  try {
    const { numClasses } = m.var.config;
    const steps = Number(opts.steps ?? 20);
    const batch = Number(opts.batch ?? 8);
    const lr = Number(opts.lr ?? 3e-4);
    const seed = Number(opts.seed ?? 0);
    const labelSmoothing = Number(opts.labelSmoothing ?? recipeLabelSmoothing(m.card) ?? 0.1);
    if (!(labelSmoothing >= 0 && labelSmoothing < 1))
      throw new ValueError(`--label-smoothing must be in [0, 1); got ${opts.labelSmoothing}`);
    if (!folder) {
      folder = await writeDemoFolder(join(here, 'out', 'demo-folder'), { size: m.vae.imageSize });
      console.log(`no folder given: fine-tuning on a demo folder of MNIST 3s and 7s (${folder})`);
    }
    const data = await tokenizeFolder(m.vae, resolve(folder), { numClasses, card: m.card, label: opts.label });
    const before = folderLoss(m.var, data);

    const trainer = await VARTrainer.create(m.var, {
      peakLr: lr,
      maxIt: Math.max(2, steps),
      wpIt: Math.max(1, Math.round(steps / 10)),
      labelSmoothing,
      seed,
    });
    const losses = [];
    const rng = new Rng(seed);
    const order = [];
    try {
      for (let it = 0; it < steps; it++) {
        if (order.length < Math.min(batch, data.n)) order.push(...permutation(data.n, rng)); // seeded epochs
        const b = batchOf(data, order.splice(0, Math.min(batch, data.n)));
        try {
          const r = trainer.step(b.labels, b.x, b.gt); // forward, backward, clip, AdamW, schedule
          losses.push(r.loss);
          if (opts.onStep) opts.onStep({ step: it + 1, steps, ...r });
        } finally {
          b.x.dispose();
        }
      }
    } finally {
      trainer.dispose();
    }
    const after = folderLoss(m.var, data);
    const seconds = (performance.now() - t0) / 1000;

    const out = resolve(opts.out ?? join(here, 'out', 'model'));
    const id = `${m.card.id}-finetuned`.replace(/[^A-Za-z0-9._-]/g, '-');
    // The base card's class names, image size and sampling settings still hold; its training,
    // quality and reproduce entries do not.
    const { classNames, imageSize, channels, sampling, license } = m.card;
    const card = await saveModel(
      out,
      {
        vae: m.vae,
        var: m.var,
        card: {
          ...JSON.parse(JSON.stringify({ classNames, imageSize, channels, sampling, license })),
          id,
          name: `${m.card.name} (fine-tuned)`,
          dataset: { name: resolve(folder), images: data.n },
          training: {
            base: m.source,
            steps,
            batch,
            lr,
            labelSmoothing,
            seed,
            seconds,
            backend: backend.name,
            folderLossBefore: before,
            folderLossAfter: after,
          },
        },
      },
      { dtype: opts.dtype ?? 'F16' },
    );
    const summary = {
      base: m.source,
      folder: resolve(folder),
      images: data.n,
      labels: Array.from(new Set(data.labels)).sort((a, b) => a - b),
      steps,
      batch,
      lr,
      labelSmoothing,
      losses,
      folderLossBefore: before,
      folderLossAfter: after,
      out,
      id: card.id,
      seconds,
      backend: backend.name,
    };
    writeFileSync(join(out, 'finetune-summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  } finally {
    disposeModel(m);
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      model: { type: 'string' },
      steps: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      'label-smoothing': { type: 'string' },
      seed: { type: 'string' },
      label: { type: 'string' },
      dtype: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      "usage: node examples/finetune-folder/main.mjs [FOLDER] [--model mnist|DIR] [--steps 20] [--batch 8] [--lr 3e-4] [--label-smoothing S (the base model's recipe, else 0.1)] [--seed 0] [--label N] [--dtype F16|F32] [--out DIR]",
    );
    return;
  }
  const s = await run(positionals[0], {
    ...values,
    labelSmoothing: values['label-smoothing'],
    onStep: (e) =>
      console.log(
        `step ${String(e.step).padStart(3)}/${e.steps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  grad norm ${e.gradNorm.toFixed(3)}`,
      ),
  });
  console.log(`folder: ${s.images} images, classes ${s.labels.join(', ')}; base model ${s.base} on ${s.backend}`);
  console.log(
    `token loss on the folder: ${s.folderLossBefore.toFixed(4)} → ${s.folderLossAfter.toFixed(4)} after ${s.steps} steps (${s.seconds.toFixed(1)} s)`,
  );
  console.log(`saved "${s.id}" to ${s.out} (load it with loadModel('${s.out}'))`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
    process.exit(1);
  });
}
