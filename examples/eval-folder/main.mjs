#!/usr/bin/env node
/**
 * var.ts example — evaluate folders of digit images with @var/metrics.
 *
 * Each folder is read with @var/data's imageFolderDataset (one sub-folder per class, named
 * by its digit "0"…"9", or a flat folder of images), every image goes through the digit
 * classifier shipped in @var/metrics (128-d features, 10 logits), and the folder gets:
 *
 *   fid         Fréchet distance between its features and those of real MNIST digits
 *               (a seeded subset of @var/datasets' mnistDataset, or a reference folder);
 *   digitScore  the Inception Score computed with the digit classifier's logits
 *               (1 … 10: high when each image is a confident digit and all digits occur);
 *   accuracy    for class sub-folders: how often the classifier reads the folder's digit;
 *   confidence  mean top-class probability.
 *
 *   node examples/eval-folder/main.mjs FOLDER [FOLDER …] [--reference mnist|DIR]
 *        [--reference-count 1000] [--seed 0] [--fit resize|center-crop] [--out report.json]
 *
 * Without a folder it writes a demo (100 real MNIST digits and 100 noise images, in class
 * sub-folders) under examples/eval-folder/out/demo and evaluates both.
 *
 * Images of any size and channel count are read as gray; images that are not 28×28 are
 * fitted by the classifier (`--fit resize`, or `center-crop` for digits padded to a larger
 * canvas, as the shipped MNIST model's 32-px samples). These numbers compare digit models
 * with each other; they are not the Inception-network FID of papers.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, initBackend } from '@var/core';
import { imageFolderDataset, imageToTensor, imagesToTensor, permutation, writePng } from '@var/data';
import { mnistDataset } from '@var/datasets';
import { DigitClassifier, FeatureStats, features, fidFromStats, inceptionScore } from '@var/metrics';

const here = dirname(fileURLToPath(import.meta.url));
const BATCH = 64;

/** The MNIST digits used as the reference: the first `count` of a seeded permutation of the 10,000. */
export function mnistReferenceIndices(total, count, seed) {
  return permutation(total, new Rng(seed)).slice(0, Math.min(count, total));
}

/**
 * The demo run without a folder: `<dir>/mnist-digits/<d>/*.png` (real MNIST digits that are
 * not in the default reference subset) and `<dir>/noise/<d>/*.png` (uniform noise), `perClass`
 * images per digit each.
 */
export async function writeDemoFolders(dir, perClass = 10, seed = 0) {
  const ds = await mnistDataset();
  const inReference = new Set(mnistReferenceIndices(ds.length, 1000, seed));
  const rng = new Rng(seed + 1);
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(dir, 'mnist-digits', String(d)), { recursive: true });
    mkdirSync(join(dir, 'noise', String(d)), { recursive: true });
    let k = 0;
    for (let i = 0; i < ds.length && k < perClass; i++) {
      if (ds.labels[i] !== d || inReference.has(i)) continue;
      await writePng(join(dir, 'mnist-digits', String(d), `${i}.png`), await ds.get(i));
      k++;
    }
    for (let j = 0; j < perClass; j++) {
      const data = Uint8Array.from({ length: 28 * 28 }, () => Math.floor(rng.random() * 256));
      await writePng(join(dir, 'noise', String(d), `${j}.png`), { width: 28, height: 28, channels: 1, data });
    }
  }
  return [join(dir, 'mnist-digits'), join(dir, 'noise')];
}

/** Features and logits of `images` (RawImage[]), in batches. */
async function classify(classifier, images) {
  const D = classifier.featureDim;
  const K = classifier.numClasses;
  const feats = new Float32Array(images.length * D);
  const logits = new Float32Array(images.length * K);
  const sameSize = images.every((im) => im.width === images[0].width && im.height === images[0].height);
  for (let b0 = 0; b0 < images.length; b0 += BATCH) {
    const part = images.slice(b0, b0 + BATCH);
    // (B, 1, H, W) gray in [-1, 1]; mixed sizes are brought to 28×28 here.
    const x = sameSize
      ? imagesToTensor(part, { channels: 1 })
      : tf.tidy(() => tf.concat(part.map((im) => imageToTensor(im, { channels: 1, size: 28 }))));
    try {
      const out = await classifier.extract(x);
      feats.set(out.features, b0 * D);
      logits.set(out.logits, b0 * K);
    } finally {
      x.dispose();
    }
  }
  return { feats, logits };
}

/** Softmax of one row. */
function softmax(row) {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** The metrics of one folder against the reference statistics. */
async function evaluateFolder(dir, classifier, refStats) {
  const ds = await imageFolderDataset(dir);
  const images = await Promise.all(Array.from({ length: ds.length }, (_, i) => ds.get(i)));
  const { feats, logits } = await classify(classifier, images);
  const n = images.length;
  const K = classifier.numClasses;
  const fid = fidFromStats(refStats, FeatureStats.fromFeatures(feats, n, classifier.featureDim)).fid;
  // One split over the whole folder (consecutive splits of a folder sorted by class would each hold one digit).
  const digitScore = inceptionScore(features(logits, n, K), { splits: 1 });
  const predicted = new Array(n);
  const histogram = new Array(K).fill(0);
  let confidence = 0;
  for (let i = 0; i < n; i++) {
    const p = softmax(Array.from(logits.subarray(i * K, (i + 1) * K)));
    const best = p.indexOf(Math.max(...p));
    predicted[i] = best;
    histogram[best]++;
    confidence += p[best] / n;
  }
  // Class sub-folders named by a digit give the expected label.
  const digitOf = ds.classNames.map((name) => (/^\d$/.test(name) ? Number(name) : null));
  let accuracy = null;
  if (ds.layout === 'classes' && digitOf.some((d) => d !== null)) {
    let ok = 0;
    let counted = 0;
    for (let i = 0; i < n; i++) {
      const want = digitOf[ds.labels[i]];
      if (want === null) continue;
      counted++;
      if (predicted[i] === want) ok++;
    }
    accuracy = ok / counted;
  }
  return {
    folder: dir,
    images: n,
    layout: ds.layout,
    skipped: ds.skipped.length,
    fid,
    digitScore: digitScore.mean,
    accuracy,
    confidence,
    predictedHistogram: histogram,
    predictions: ds.files.map((f, i) => ({ file: f, predicted: predicted[i] })),
  };
}

export async function run(folders, opts = {}) {
  if (!folders?.length) throw new Error('give at least one folder of images');
  const backend = await initBackend(opts.backend ?? 'auto', opts.threads ? { threads: Number(opts.threads) } : {});
  const classifier = await DigitClassifier.load(undefined, { fit: opts.fit ?? 'resize' });
  const t0 = performance.now();
  try {
    // Reference: real MNIST digits (seeded subset) or a folder of images.
    const seed = Number(opts.seed ?? 0);
    const count = Number(opts['reference-count'] ?? opts.referenceCount ?? 1000);
    let refImages;
    let reference;
    if ((opts.reference ?? 'mnist') === 'mnist') {
      const ds = await mnistDataset();
      const idx = mnistReferenceIndices(ds.length, count, seed);
      refImages = await Promise.all(Array.from(idx, (i) => ds.get(i)));
      reference = { source: 'mnist', images: refImages.length, seed };
    } else {
      const ds = await imageFolderDataset(resolve(opts.reference));
      refImages = await Promise.all(Array.from({ length: Math.min(count, ds.length) }, (_, i) => ds.get(i)));
      reference = { source: resolve(opts.reference), images: refImages.length };
    }
    const ref = await classify(classifier, refImages);
    const refStats = FeatureStats.fromFeatures(ref.feats, refImages.length, classifier.featureDim);
    const results = [];
    for (const f of folders) results.push(await evaluateFolder(resolve(f), classifier, refStats));
    const report = {
      backend: backend.name,
      features: 'digit classifier (@var/metrics)',
      fit: classifier.fit,
      reference,
      folders: results,
      seconds: (performance.now() - t0) / 1000,
    };
    if (opts.out) writeFileSync(resolve(opts.out), `${JSON.stringify(report, null, 2)}\n`);
    return report;
  } finally {
    classifier.dispose();
  }
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      reference: { type: 'string' },
      'reference-count': { type: 'string' },
      seed: { type: 'string' },
      fit: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(readHelp());
    return;
  }
  let folders = positionals;
  if (folders.length === 0) {
    const demo = join(here, 'out', 'demo');
    folders = await writeDemoFolders(demo);
    console.log(`no folder given: evaluating a demo, 100 real MNIST digits and 100 noise images written to ${demo}`);
  }
  const r = await run(folders, values);
  console.log(`reference: ${r.reference.images} images (${r.reference.source}); features: ${r.features}; backend ${r.backend}`);
  console.log('folder'.padEnd(28), 'images', '   fid', ' digit score', ' accuracy', ' confidence');
  for (const f of r.folders) {
    console.log(
      basename(f.folder).padEnd(28),
      String(f.images).padStart(6),
      f.fid.toFixed(2).padStart(6),
      f.digitScore.toFixed(2).padStart(12),
      (f.accuracy === null ? '-' : `${(100 * f.accuracy).toFixed(1)}%`).padStart(9),
      f.confidence.toFixed(3).padStart(11),
    );
  }
  if (values.out) console.log(`report: ${resolve(values.out)}`);
}

function readHelp() {
  return [
    `usage: node ${join('examples', 'eval-folder', 'main.mjs')} [FOLDER …] [--reference mnist|DIR] [--reference-count N] [--seed N] [--fit resize|center-crop] [--out report.json]`,
    'Without a folder: writes and evaluates a demo (real MNIST digits vs noise) under examples/eval-folder/out/demo.',
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
    process.exit(1);
  });
}
