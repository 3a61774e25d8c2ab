import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '@var/core';
import { IMAGE_EXTENSIONS, imagesToTensor, permutation, readBytes, readImage, type RawImage } from '@var/data';
import { mnistDataset } from '@var/datasets';
import { DigitClassifier, FeatureStats, features, fidFromStats, inceptionScore, precisionRecall, readReferenceStats } from '@var/metrics';
import { loadGenerator } from '@var/pipeline';
import { UsageError } from '../errors.js';
import {
  abs,
  addBackendOptions,
  addModelOptions,
  addOutputOptions,
  intOpt,
  numOpt,
  resolveModel,
  startBackend,
  type ModelOptions,
} from '../model.js';
import type { Ctx, Ui } from '../ui.js';

const METRICS = ['fid', 'is', 'pr', 'accuracy'] as const;
type Metric = (typeof METRICS)[number];

interface EvalOpts extends ModelOptions {
  count?: string;
  reference: string;
  referenceCount?: string;
  metrics: string;
  features: string;
  seed?: string;
  cfg?: string;
  topK?: string;
  topP?: string;
  batch?: string;
  fit?: string;
  json?: boolean;
  verbose?: boolean;
}

export function evalCommand(ctx: Ctx): Command {
  const cmd = new Command('eval')
    .description('evaluate a model: generate samples and compute FID, Inception Score, precision/recall and class accuracy')
    .option('-n, --count <n>', 'samples per class', '20')
    .option('--reference <src>', 'real images: "mnist", a folder of images, or a .npz of FID statistics (mu, sigma)', 'mnist')
    .option('--reference-count <n>', 'real images to use (a seeded random subset)', '1000')
    .option('--metrics <list>', `comma-separated: ${METRICS.join(', ')}`, METRICS.join(','))
    .option('--features <name>', 'feature extractor: digits (the MNIST classifier shipped in @var/metrics)', 'digits')
    .option('-s, --seed <n>', 'random seed of sampling and of the reference subset', '0')
    .option('--cfg <x>', 'classifier-free guidance strength')
    .option('--top-k <k>', 'top-k filter (0 = off)')
    .option('--top-p <p>', 'top-p filter (0 = off)')
    .option('--batch <n>', 'images per forward pass', '32')
    .option(
      '--fit <how>',
      'how samples that are not 28 px reach the digit classifier: resize | center-crop (default: center-crop for MNIST models of 28 px or more, which are trained on padded digits; else resize)',
    );
  addModelOptions(cmd);
  addBackendOptions(cmd);
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ var eval                                         # bundled MNIST model vs 1000 MNIST digits
  $ var eval --count 100 --metrics fid,accuracy --json
  $ var eval --reference mnist-stats.npz --metrics fid

Features: "digits" is the small MNIST classifier of @var/metrics (128-d features, 10 logits):
FID/IS/precision-recall computed with it are comparable between MNIST models, not with
Inception-based numbers from papers.`,
  );
  cmd.action(async (o: EvalOpts) => evalAction(ctx.ui(o), o));
  return cmd;
}

async function referenceImages(src: string, n: number, seed: number, ui: Ui): Promise<RawImage[]> {
  if (src === 'mnist') {
    const ds = await mnistDataset();
    const idx = permutation(ds.length, new Rng(seed)).slice(0, Math.min(n, ds.length));
    return Promise.all(Array.from(idx, (i) => ds.get(i)));
  }
  const dir = abs(ui.io, src);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new UsageError(`--reference: expected "mnist", a folder of images or a .npz; ${dir} is none of these`);
  const files = readdirSync(dir)
    .filter((f) => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(f).toLowerCase()))
    .sort();
  if (files.length === 0) throw new UsageError(`--reference: no images in ${dir}`);
  const order = permutation(files.length, new Rng(seed)).slice(0, Math.min(n, files.length));
  return Promise.all(Array.from(order, (i) => readImage(join(dir, files[i]))));
}

export async function evalAction(ui: Ui, o: EvalOpts): Promise<void> {
  const metrics = o.metrics
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean) as Metric[];
  for (const m of metrics)
    if (!METRICS.includes(m)) throw new UsageError(`--metrics: unknown metric "${m}" (known: ${METRICS.join(', ')})`);
  if (o.features !== 'digits')
    throw new UsageError(
      `--features: only "digits" is available (the Inception network's weights are not shipped); got ${JSON.stringify(o.features)}`,
    );
  const spec = await resolveModel(ui.io, o);
  const { card } = spec;
  const numClasses = card.var.config.numClasses;
  const perClass = intOpt('--count', o.count, 20, 1);
  const refCount = intOpt('--reference-count', o.referenceCount, 1000, 2);
  const seed = intOpt('--seed', o.seed, 0, 0);
  // unset options: the pipeline applies the model card's sampling
  const cfgOpt = o.cfg !== undefined ? numOpt('--cfg', o.cfg, 0, 0) : undefined;
  const topKOpt = o.topK !== undefined ? intOpt('--top-k', o.topK, 0, 0) : undefined;
  const topPOpt = o.topP !== undefined ? numOpt('--top-p', o.topP, 0, 0, 1) : undefined;
  const batch = intOpt('--batch', o.batch, 32, 1);
  const npz = extname(o.reference).toLowerCase() === '.npz';
  if (npz && metrics.some((m) => m === 'pr'))
    throw new UsageError('precision/recall needs real images, not .npz statistics: drop "pr" from --metrics or give images');
  if (metrics.includes('accuracy') && numClasses !== 10)
    ui.warn(`accuracy uses a digit classifier (10 classes); this model has ${numClasses} classes`);

  const fit = o.fit ?? (card.dataset.name === 'mnist' && (card.imageSize ?? 0) >= 28 ? 'center-crop' : 'resize');
  if (fit !== 'resize' && fit !== 'center-crop')
    throw new UsageError(`--fit: expected resize or center-crop; got ${JSON.stringify(o.fit)}`);
  const backend = await startBackend(o, ui);
  const classifier = await DigitClassifier.load(undefined, { fit });
  const gen = await loadGenerator(spec.source, { backend: null });
  const { cfg, topK, topP } = {
    ...gen.sampling,
    ...(cfgOpt !== undefined ? { cfg: cfgOpt } : {}),
    ...(topKOpt !== undefined ? { topK: topKOpt } : {}),
    ...(topPOpt !== undefined ? { topP: topPOpt } : {}),
  };
  const labels = Array.from({ length: numClasses * perClass }, (_, i) => i % numClasses);
  const fakeFeat = new Float32Array(labels.length * classifier.featureDim);
  const fakeLogits = new Float32Array(labels.length * classifier.numClasses);
  const rng = new Rng(seed);
  const bar = ui.progress('samples', labels.length);
  const t0 = performance.now();
  try {
    for (let b0 = 0; b0 < labels.length; b0 += batch) {
      const lab = labels.slice(b0, b0 + batch);
      const r = await gen.generate({
        classes: lab,
        rng,
        cfg,
        topK,
        topP,
        batchSize: batch,
        returnTensor: true,
        ...(ui.io.signal ? { signal: ui.io.signal } : {}),
      });
      // (B, C, H, W) in [0, 1] → the classifier's gray [-1, 1]
      const x = tf.tidy(() => tf.mean(tf.sub(tf.mul(r.tensor!, 2), 1), 1, true) as tf.Tensor4D);
      r.tensor!.dispose();
      try {
        const out = await classifier.extract(x);
        fakeFeat.set(out.features, b0 * classifier.featureDim);
        fakeLogits.set(out.logits!, b0 * classifier.numClasses);
      } finally {
        x.dispose();
      }
      bar.update(b0 + lab.length);
    }
  } finally {
    bar.stop();
    gen.dispose();
  }
  const genSeconds = (performance.now() - t0) / 1000;
  const n = labels.length;
  const D = classifier.featureDim;
  const result: Record<string, unknown> = {
    command: 'eval',
    backend: backend.name,
    model: spec.label,
    features: 'digits',
    fit,
    samples: n,
    seed,
    cfg,
    topK,
    topP,
    seconds: { generate: Math.round(genSeconds * 1000) / 1000 },
  };

  let realFeat: Float32Array | undefined;
  let nReal = 0;
  let refStats: FeatureStats;
  if (npz) {
    refStats = readReferenceStats(await readBytes(abs(ui.io, o.reference)));
    result.reference = { file: abs(ui.io, o.reference), kind: 'npz' };
  } else {
    const imgs = await referenceImages(o.reference, refCount, seed, ui);
    nReal = imgs.length;
    realFeat = new Float32Array(nReal * D);
    for (let b0 = 0; b0 < nReal; b0 += batch) {
      const x = imagesToTensor(imgs.slice(b0, b0 + batch), { channels: 1, size: 28 });
      try {
        realFeat.set((await classifier.extract(x)).features, b0 * D);
      } finally {
        x.dispose();
      }
    }
    refStats = FeatureStats.fromFeatures(realFeat, nReal, D);
    result.reference = { source: o.reference, images: nReal };
  }
  classifier.dispose();
  const lines: string[] = [];
  if (metrics.includes('fid')) {
    const fid = fidFromStats(refStats, FeatureStats.fromFeatures(fakeFeat, n, D)).fid;
    result.fid = fid;
    lines.push(`fid (digit features): ${fid.toFixed(3)}`);
  }
  if (metrics.includes('is')) {
    const is = inceptionScore(features(fakeLogits, n, classifier.numClasses), { splits: Math.min(10, n) });
    result.inceptionScore = { mean: is.mean, std: is.std };
    lines.push(`inception score (digit classifier): ${is.mean.toFixed(3)} ± ${is.std.toFixed(3)}`);
  }
  if (metrics.includes('pr') && realFeat) {
    const pr = precisionRecall(features(realFeat, nReal, D), features(fakeFeat, n, D));
    result.precision = pr.precision;
    result.recall = pr.recall;
    lines.push(`precision: ${pr.precision.toFixed(3)}, recall: ${pr.recall.toFixed(3)}`);
  }
  if (metrics.includes('accuracy')) {
    let ok = 0;
    const K = classifier.numClasses;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (fakeLogits[i * K + k] > fakeLogits[i * K + best]) best = k;
      if (best === labels[i]) ok++;
    }
    result.accuracy = ok / n;
    lines.push(`class accuracy (digit classifier on samples): ${((100 * ok) / n).toFixed(1)}% of ${n}`);
  }
  for (const l of lines) ui.line(l);
  ui.result(result);
}
