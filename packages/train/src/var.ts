/**
 * VAR (next-scale prediction transformer) training as a resumable run, on tokens of a
 * trained tokenizer.
 *
 * Tokens: every training image (and its mirror image when the dataset flips) is encoded
 * once with the tokenizer and cached in `tokens-<key>.safetensors` (in `tokenCacheDir`,
 * default the run dir), keyed by the sha256 of the tokenizer weights file and the dataset
 * spec; a later run (or a resumed one) with the same key reads the cache instead of
 * encoding. Each step gathers a batch of cached tokens, builds the teacher-forcing input
 * with the tokenizer's quantiser (`idxToVarInput`), and runs @var/transformer's
 * `lossGrads` (official loss: label-smoothed CE, 1/L weights; conditional label dropout
 * drawn from the run's seeded Rng), clips the gradient norm, and applies {@link AdamW} with
 * the official lr/wd schedule (`lrWdAnnealing`) and no-weight-decay groups.
 *
 * Evaluation: teacher-forced validation loss and token accuracy on held-out tokens, and for
 * MNIST the digit classifier's accuracy on generated samples (@var/sampling `generate`).
 */
import * as tf from '@tensorflow/tfjs-core';
import { readSafetensors, writeSafetensors, type StateDict } from '@var/checkpoint';
import { ConfigError, ensureGradients, formatBytes, OutOfMemoryError, Rng, ValueError, type RngState } from '@var/core';
import { batches, horizontalFlip, rngFor, shuffledIndices, batchesPerEpoch } from '@var/data';
import { availableBytes, generate, isRasterPair, rasterPatchNums } from '@var/sampling';
import type { VQVAE } from '@var/tokenizer';
import {
  fromOfficialLayout,
  lossGrads,
  lrWdAnnealing,
  toOfficialLayout,
  valLoss,
  VAR,
  weightDecayScale,
  type ScheduleType,
  type VARConfig,
} from '@var/transformer';
import { loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { loadDataset, type DatasetSpec, type LoadedDataset } from './dataset.js';
import { loadDigitClassifier, spreadIndices, type DigitClassifierLike } from './eval.js';
import { AdamW, clipGradients } from './optim.js';
import { canonicalJson, exists, JsonlLog, prepareRunDir, readModelFile, sha256 } from './run-dir.js';
import { resolveSettings, round, SessionClock, type ProgressCallback, type RunSettings, type SessionOptions } from './session.js';
import { configHash, loadTokenizer, type TrainResult } from './tokenizer.js';

/** The VAR architecture options (patchNums, vocabSize and Cvae come from the tokenizer; numClasses from the dataset). */
export type VARModelOptions = Partial<Omit<VARConfig, 'patchNums' | 'vocabSize' | 'Cvae' | 'numClasses'>> & {
  depth: number;
  embedDim: number;
  numHeads: number;
};

export interface VARTrainConfig {
  steps: number;
  batchSize: number;
  /** Peak learning rate (default 3e-4). */
  lr?: number;
  /** Warm-up steps (default steps/50). */
  warmupSteps?: number;
  /** Schedule of lrWdAnnealing (default 'lin0', as the official recipe). */
  schedule?: ScheduleType;
  /** Final lr fraction (default 0.01). */
  lrEndFraction?: number;
  /** Weight decay (default 0.05) and its final value (default the same). */
  weightDecay?: number;
  weightDecayEnd?: number;
  /** AdamW betas (default [0.9, 0.95]). */
  betas?: [number, number];
  /** Gradient-norm clip (default 2). */
  gradClip?: number;
  /** Label smoothing (default 0.1). */
  labelSmoothing?: number;
  /**
   * Samples per forward/backward pass (gradient accumulation: the batch's gradients are the
   * share-weighted sum of its micro-batches', the same update up to float rounding). Default
   * 'auto': the largest that fits the backend's memory ({@link estimateTrainStepBytes} against
   * `availableBytes`, wasm: its 4 GiB heap), split evenly. An explicit value is used as given,
   * but one that does not fit either is an OutOfMemoryError before the first step. Not part of
   * the run's config hash: a run may resume with another value.
   */
  microBatch?: number | 'auto';
}

export interface VAREvalOptions {
  /** Held-out images for the teacher-forced validation loss (default 200). */
  valSamples?: number;
  /** Generated images per class for the classifier accuracy (MNIST; default 2, 0 = skip). */
  perClass?: number;
  cfg?: number;
  topK?: number;
  topP?: number;
}

export interface VARRunConfig {
  kind: 'var';
  version: number;
  seed: number;
  model: VARConfig;
  train: Required<Omit<VARTrainConfig, 'microBatch'>>;
  dataset: LoadedDataset['spec'];
  tokenizer: { path: string; sha256: string };
  run?: RunSettings & { eval?: VAREvalOptions };
  [key: string]: unknown;
}

export interface TrainVAROptions extends SessionOptions {
  runDir: string;
  /** The tokenizer: a finished tokenizer run directory (its model.safetensors) or a model file written by writeTokenizerModel. */
  tokenizer: string;
  model: VARModelOptions;
  dataset: DatasetSpec;
  train: VARTrainConfig;
  seed?: number;
  settings?: RunSettings;
  eval?: VAREvalOptions;
  /** Where to cache tokens (default the run dir). */
  tokenCacheDir?: string;
  /**
   * Token order: `next-scale` (default, VAR) or `raster` (the raster-order baseline: needs a
   * single-scale tokenizer, vPatchNums [g]; the transformer gets `rasterPatchNums(g)`, i.e. one
   * token per step with a causal mask, and position t+1's input is the codebook vector of token t).
   */
  order?: 'next-scale' | 'raster';
  /** Digit classifier for MNIST evaluation: default @var/metrics'; `false` to skip. */
  classifier?: DigitClassifierLike | false;
  resume?: 'auto' | 'never';
  /**
   * Weights to start from instead of a fresh initialisation (fine-tuning, or training an
   * earlier model further with a new schedule): a finished VAR run directory (its
   * model.safetensors), or a VAR weights file with its config in the metadata (as runs write
   * it) or named by a `model-card.json` beside it (a @var/models model directory's
   * var.safetensors). Its architecture must equal this run's `model` (after defaults); the
   * file's path and sha256 become part of the run's config. Only the weights are taken: the
   * optimizer starts fresh and the schedule is this run's. A resumed run reads its checkpoint.
   */
  init?: string;
}

/** A VAR weights file to start a run from ({@link TrainVAROptions.init}). */
export async function loadVARInit(
  pathOrRunDir: string,
): Promise<{ stateDict: StateDict; config: VARConfig; weightsPath: string; hash: string }> {
  const m = await readModelFile<VARConfig>(pathOrRunDir, 'var', {
    notFound: (p) => `init: VAR weights not found: ${p}`,
    unfinished: (p) => `init: ${p} has no model.safetensors yet: the VAR run has not finished (run it to the end first)`,
    noConfig: (f) => `init: ${f} has no VAR config in its metadata and no model-card.json beside it names it`,
  });
  return { stateDict: m.tensors, config: m.config, weightsPath: m.file, hash: m.hash };
}

function resolveTrain(t: VARTrainConfig): Required<Omit<VARTrainConfig, 'microBatch'>> {
  if (!t || !(Number.isInteger(t.steps) && t.steps > 1))
    throw new ConfigError(`train.steps must be an integer > 1; got ${JSON.stringify(t?.steps)}`);
  if (!(Number.isInteger(t.batchSize) && t.batchSize > 0))
    throw new ConfigError(`train.batchSize must be a positive integer; got ${JSON.stringify(t.batchSize)}`);
  const wd = t.weightDecay ?? 0.05;
  const warmupSteps = t.warmupSteps ?? Math.round(t.steps / 50);
  // the official schedule's decay phase divides by steps − 1 − warmupSteps: 0 or less gives a NaN / negative lr
  if (!(Number.isInteger(warmupSteps) && warmupSteps >= 0 && warmupSteps <= t.steps - 2))
    throw new ConfigError(`train.warmupSteps must be an integer 0..steps − 2 (${t.steps - 2}); got ${JSON.stringify(t.warmupSteps)}`);
  return {
    steps: t.steps,
    batchSize: t.batchSize,
    lr: t.lr ?? 3e-4,
    warmupSteps,
    schedule: t.schedule ?? 'lin0',
    lrEndFraction: t.lrEndFraction ?? 0.01,
    weightDecay: wd,
    weightDecayEnd: t.weightDecayEnd ?? wd,
    betas: t.betas ?? [0.9, 0.95],
    gradClip: t.gradClip ?? 2,
    labelSmoothing: t.labelSmoothing ?? 0.1,
  };
}

/** The full VARConfig for a tokenizer and a dataset (`raster`: the raster-order baseline's, see {@link TrainVAROptions.order}). */
export function varModelConfig(
  m: VARModelOptions,
  vae: VQVAE,
  numClasses: number,
  order: 'next-scale' | 'raster' = 'next-scale',
): VARConfig {
  const vp = vae.config.vPatchNums;
  if (order === 'raster' && vp.length !== 1)
    throw new ConfigError(`order 'raster' needs a single-scale tokenizer (vPatchNums [g]); this one has vPatchNums [${vp.join(', ')}]`);
  if (order !== 'raster' && order !== 'next-scale')
    throw new ConfigError(`order must be 'next-scale' or 'raster'; got ${JSON.stringify(order)}`);
  const extra = Object.keys(m).filter((k) => ['patchNums', 'vocabSize', 'Cvae', 'numClasses'].includes(k));
  if (extra.length) throw new ConfigError(`model.${extra[0]} is taken from the tokenizer / dataset; leave it out`);
  return {
    numClasses: Math.max(1, numClasses),
    depth: m.depth,
    embedDim: m.embedDim,
    numHeads: m.numHeads,
    mlpRatio: m.mlpRatio ?? 4,
    normEps: m.normEps ?? 1e-6,
    sharedAln: m.sharedAln ?? false,
    condDropRate: m.condDropRate ?? 0.1,
    attnL2Norm: m.attnL2Norm ?? true,
    dropPathRate: m.dropPathRate ?? 0,
    patchNums: order === 'raster' ? rasterPatchNums(vp[0]) : [...vp],
    vocabSize: vae.config.vocabSize,
    Cvae: vae.config.zChannels,
  };
}

// ---------------------------------------------------------------- token cache

/** Tokens of a dataset split: (N, L) int32, scale-major rows as the official `gt_BL`. */
export interface TokenTable {
  tokens: Int32Array;
  labels: Int32Array;
  n: number;
  L: number;
}

export interface CachedTokens {
  train: TokenTable;
  /** Tokens of the mirrored training images (when the dataset flips). */
  trainFlipped?: TokenTable;
  heldOut: TokenTable;
  /** The cache file and whether it was read (hit) or written (miss). */
  path: string;
  hit: boolean;
}

/** The cache key: tokenizer weights hash + dataset spec (+ format version). */
export function tokenCacheKey(tokenizerSha256: string, dataset: LoadedDataset['spec']): string {
  return sha256(canonicalJson({ v: 1, tokenizer: tokenizerSha256, dataset }));
}

async function encodeSplit(
  vae: VQVAE,
  ds: LoadedDataset,
  split: 'train' | 'heldOut',
  flip: boolean,
  report?: (done: number) => void,
): Promise<TokenTable> {
  const set = ds[split];
  const L = vae.config.vPatchNums.reduce((a, p) => a + p * p, 0);
  const out = new Int32Array(set.length * L);
  let row = 0;
  for await (const b of batches(set, { batchSize: 64, ...ds.imageOptions, shuffle: false })) {
    const img = flip ? horizontalFlip(b.images) : b.images;
    const idx = vae.imgToIdx(img as tf.Tensor4D);
    if (img !== b.images) img.dispose();
    const B = b.images.shape[0];
    const per = idx.map((t) => t.dataSync() as Int32Array);
    for (let i = 0; i < B; i++) {
      let o = (row + i) * L;
      for (let s = 0; s < per.length; s++) {
        const pp = per[s].length / B;
        out.set(per[s].subarray(i * pp, (i + 1) * pp), o);
        o += pp;
      }
    }
    tf.dispose(idx);
    row += B;
    report?.(row);
  }
  return { tokens: out, labels: Int32Array.from(set.labels), n: set.length, L };
}

/**
 * Tokens of the training (and mirrored, when `hflip` > 0) and held-out images, read from
 * `<dir>/tokens-<key16>.safetensors` when a cache with the same key exists, else encoded
 * and written there (atomically).
 */
export async function cachedTokens(
  vae: VQVAE,
  tokenizerSha256: string,
  ds: LoadedDataset,
  dir: string,
  onProgress?: (done: number, total: number) => void,
): Promise<CachedTokens> {
  const { join } = await import('node:path');
  const key = tokenCacheKey(tokenizerSha256, ds.spec);
  const path = join(dir, `tokens-${key.slice(0, 16)}.safetensors`);
  const L = vae.config.vPatchNums.reduce((a, p) => a + p * p, 0);
  if (await exists(path)) {
    try {
      const f = await readSafetensors(path);
      if (f.metadata.key === key) {
        const table = (name: string): TokenTable | undefined => {
          const t = f.tensors.get(`${name}.tokens`);
          const l = f.tensors.get(`${name}.labels`);
          if (!t || !l) return undefined;
          return { tokens: t.data as Int32Array, labels: l.data as Int32Array, n: t.shape[0], L: t.shape[1] };
        };
        const train = table('train');
        const heldOut = table('heldOut');
        const trainFlipped = table('trainFlipped');
        if (
          train &&
          heldOut &&
          train.L === L &&
          train.n === ds.train.length &&
          heldOut.n === ds.heldOut.length &&
          (ds.spec.hflip === 0 || trainFlipped)
        ) {
          return { train, heldOut, ...(trainFlipped ? { trainFlipped } : {}), path, hit: true };
        }
      }
    } catch {
      // unreadable cache: re-encode below
    }
  }
  const total = ds.train.length * (ds.spec.hflip > 0 ? 2 : 1) + ds.heldOut.length;
  let base = 0;
  const rep = (d: number) => onProgress?.(base + d, total);
  const train = await encodeSplit(vae, ds, 'train', false, rep);
  base += ds.train.length;
  let trainFlipped: TokenTable | undefined;
  if (ds.spec.hflip > 0) {
    trainFlipped = await encodeSplit(vae, ds, 'train', true, rep);
    base += ds.train.length;
  }
  const heldOut = await encodeSplit(vae, ds, 'heldOut', false, rep);
  await (await import('node:fs/promises')).mkdir(dir, { recursive: true }); // a tokenCacheDir of its own may not exist yet
  const tensors: StateDict = new Map();
  for (const [name, t] of [
    ['train', train],
    ['heldOut', heldOut],
    ['trainFlipped', trainFlipped],
  ] as const) {
    if (!t) continue;
    tensors.set(`${name}.tokens`, { dtype: 'I32', shape: [t.n, t.L], data: t.tokens });
    tensors.set(`${name}.labels`, { dtype: 'I32', shape: [t.n], data: t.labels });
  }
  await writeSafetensors(path, tensors, { key, tokenizer: tokenizerSha256, dataset: canonicalJson(ds.spec) });
  return { train, heldOut, ...(trainFlipped ? { trainFlipped } : {}), path, hit: false };
}

/** Per-scale token tensors (B, pn²) of rows `rows` of a table. */
function gatherScales(
  table: TokenTable,
  rows: ArrayLike<number>,
  patchNums: readonly number[],
  flipped?: TokenTable,
  flips?: boolean[],
): { gt: Int32Array; idx: tf.Tensor2D[] } {
  const B = rows.length;
  const L = table.L;
  const gt = new Int32Array(B * L);
  for (let i = 0; i < B; i++) {
    const src = flips?.[i] && flipped ? flipped : table;
    gt.set(src.tokens.subarray(rows[i] * L, (rows[i] + 1) * L), i * L);
  }
  const idx: tf.Tensor2D[] = [];
  let off = 0;
  for (const pn of patchNums) {
    const n = pn * pn;
    const d = new Int32Array(B * n);
    for (let i = 0; i < B; i++) d.set(gt.subarray(i * L + off, i * L + off + n), i * n);
    idx.push(tf.tensor2d(d, [B, n], 'int32'));
    off += n;
  }
  return { gt, idx };
}

/**
 * The teacher-forcing input (B, L − 1, Cvae) of a batch: next-scale, the area-downsampled
 * f_hat of every scale after the first (`idxToVarInput`); raster, the codebook vectors of
 * tokens 0..L−2 (position t+1 sees token t).
 */
function teacherInput(vae: VQVAE, idx: tf.Tensor2D[], raster: boolean): tf.Tensor3D {
  if (!raster) return vae.idxToVarInput(idx);
  return tf.tidy(() => {
    const [B, L] = idx[0].shape;
    const prev = tf.slice(idx[0], [0, 0], [B, L - 1]);
    const cb = vae.quantizer.codebook as unknown as tf.Tensor2D;
    return tf.reshape(tf.gather(cb, tf.reshape(prev, [-1])), [B, L - 1, vae.config.zChannels]) as tf.Tensor3D;
  });
}

// ---------------------------------------------------------------- memory and micro-batches

/** The bytes of one VAR training step (forward, backward; weights and optimizer moments not included). */
export interface TrainStepMemoryEstimate {
  /** Activations the gradient tape keeps per sample. */
  perSampleBytes: number;
  /** Per step whatever the batch: the gradients and transposed weight copies (≈ 3 × the weights). */
  stepFixedBytes: number;
  /** The weights alone (float32). */
  parameterBytes: number;
}

/**
 * Estimated peak bytes of one `lossGrads` call of `config` with `numParameters` weights:
 * `stepFixedBytes + batch × perSampleBytes`. Per sample the tape holds per block and token
 * ≈ 150·C + 32·hidden + 8·H·L floats (every intermediate of LN, AdaLN, attention, GELU is kept
 * for the backward pass) and ≈ 24·V per token for the head and loss. Fitted on tf.profile peaks
 * (wasm) of eight configs (depth 2–6, width 64–384, heads 2–6, mlpRatio 2 and 4, L 30 and 130,
 * V 64 and 512); it lies 1.08–1.18× above each (micro-batch.test.ts checks a small one).
 */
export function estimateTrainStepBytes(config: VARConfig, numParameters: number): TrainStepMemoryEstimate {
  const C = config.embedDim;
  const hidden = Math.round(C * (config.mlpRatio ?? 4));
  const L = config.patchNums.reduce((a, p) => a + p * p, 0);
  const floats = config.depth * L * (150 * C + 32 * hidden + 8 * config.numHeads * L) + 24 * L * config.vocabSize;
  return { perSampleBytes: 4 * floats, stepFixedBytes: Math.ceil(3.1 * 4 * numParameters), parameterBytes: 4 * numParameters };
}

/**
 * The micro-batch of a training batch: `requested` (a positive integer ≤ batchSize) or 'auto'
 * (the largest that fits `budgetBytes`, split evenly: 16 with room for 10 → two of 8). Bytes
 * needed: the step's fixed bytes, `micro` samples, and an accumulator of the gradients when
 * the batch takes more than one pass. Throws {@link OutOfMemoryError} (largestBatch: the
 * largest micro-batch that fits, 0 when none) when the chosen micro-batch does not fit.
 */
export function chooseMicroBatch(
  batchSize: number,
  requested: number | 'auto' | undefined,
  est: TrainStepMemoryEstimate,
  budgetBytes: number,
  backend = tf.getBackend(),
): number {
  const req = requested ?? 'auto';
  if (req !== 'auto' && !(Number.isInteger(req) && req > 0 && req <= batchSize))
    throw new ConfigError(`train.microBatch must be 'auto' or an integer 1..batchSize (${batchSize}); got ${JSON.stringify(requested)}`);
  const need = (m: number) => est.stepFixedBytes + m * est.perSampleBytes + (m < batchSize ? est.parameterBytes : 0);
  let fits = 0;
  if (!Number.isFinite(budgetBytes)) fits = batchSize;
  else while (fits < batchSize && need(fits + 1) <= budgetBytes) fits++;
  const micro = req === 'auto' ? (fits > 0 ? Math.ceil(batchSize / Math.ceil(batchSize / fits)) : 1) : req;
  if (micro <= fits) return micro;
  const what =
    fits > 0
      ? `the largest micro-batch that fits is ${fits} (train.microBatch ${fits} or 'auto': the batch of ${batchSize} runs in ${Math.ceil(batchSize / fits)} passes)`
      : `not even micro-batch 1 fits, so no batch does: use a smaller model${backend === 'wasm' ? ', or the cpu / tensorflow backend (wasm addresses at most 4 GiB)' : ''}`;
  throw new OutOfMemoryError(
    `a VAR training pass of ${micro} sample(s) (train.batchSize ${batchSize}) needs about ${formatBytes(need(micro))} on ${backend} ` +
      `(${formatBytes(est.perSampleBytes)} per sample + ${formatBytes(est.stepFixedBytes)} per step), but about ${formatBytes(budgetBytes)} is available; ${what}`,
    { neededBytes: need(micro), availableBytes: budgetBytes, largestBatch: fits },
  );
}

/**
 * A RandomSource for samples [start, end) of a batch of `batch` that hands each sample the draw
 * the whole batch's pass would give it: the model draws in rounds of one value per sample
 * (label dropout, then drop-path per block), so draw k of a pass over m samples is sample
 * start + k mod m of round ⌊k/m⌋. The draws come from `rng` in the full batch's order, once.
 */
class BatchDraws {
  private readonly u: number[] = [];
  private readonly n: number[] = [];
  constructor(
    private readonly rng: Rng,
    private readonly batch: number,
  ) {}
  slice(start: number, end: number): { random(): number; normal(): number } {
    const m = end - start;
    let ku = 0;
    let kn = 0;
    const at = (buf: number[], k: number, draw: () => number) => {
      const i = Math.floor(k / m) * this.batch + start + (k % m);
      while (buf.length <= i) buf.push(draw());
      return buf[i];
    };
    return {
      random: () => at(this.u, ku++, () => this.rng.random()),
      normal: () => at(this.n, kn++, () => this.rng.normal()),
    };
  }
}

/**
 * `lossGrads` of a batch in passes of at most `microBatch` samples: the loss and gradients are
 * the share-weighted sums (size / batch) of the passes', equal to one pass over the whole
 * batch up to float rounding, with the same label-dropout / drop-path draw for every sample
 * and `rng` advanced as by one pass. The caller disposes the gradients.
 */
export function microBatchLossGrads(
  model: VAR,
  labels: Int32Array,
  x: tf.Tensor3D,
  gt: Int32Array,
  microBatch: number,
  opts: { labelSmoothing?: number; rng: Rng },
): { loss: number; grads: Map<string, tf.Tensor>; passes: number } {
  const B = labels.length;
  if (microBatch >= B)
    return { ...lossGrads(model, labels, x, gt, { labelSmoothing: opts.labelSmoothing, training: true, rng: opts.rng }), passes: 1 };
  const L = gt.length / B;
  const draws = new BatchDraws(opts.rng, B);
  let acc: Map<string, tf.Tensor> | undefined;
  let loss = 0;
  let passes = 0;
  try {
    for (let s = 0; s < B; s += microBatch) {
      const e = Math.min(B, s + microBatch);
      const w = (e - s) / B;
      const xs = tf.slice(x, [s, 0, 0], [e - s, x.shape[1], x.shape[2]]);
      let r: ReturnType<typeof lossGrads>;
      try {
        r = lossGrads(model, labels.subarray(s, e), xs, gt.subarray(s * L, e * L), {
          labelSmoothing: opts.labelSmoothing,
          training: true,
          rng: draws.slice(s, e),
        });
      } finally {
        xs.dispose();
      }
      loss += w * r.loss;
      passes++;
      const next = new Map<string, tf.Tensor>();
      for (const [n, g] of r.grads) {
        const prev = acc?.get(n);
        next.set(
          n,
          tf.tidy(() => (prev ? tf.add(prev, tf.mul(g, w)) : tf.mul(g, w))),
        );
        g.dispose();
        prev?.dispose();
      }
      acc = next;
    }
  } catch (err) {
    if (acc) tf.dispose([...acc.values()]);
    throw err;
  }
  return { loss, grads: acc!, passes };
}

// ---------------------------------------------------------------- evaluation

/**
 * Teacher-forced validation on held-out tokens (`valLoss`: plain CE over all tokens, and
 * `valTokenAcc`: argmax accuracy; `valLossLast` / `valTokenAccLast`: the same on the last
 * scale's tokens only), and with a classifier the accuracy of generated samples
 * (`genAccuracy`, `perClass` images of every class).
 */
export async function evalVAR(
  model: VAR,
  vae: VQVAE,
  heldOut: TokenTable,
  opts: VAREvalOptions & { classifier?: DigitClassifierLike; seed?: number } = {},
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const n = Math.min(opts.valSamples ?? 200, heldOut.n);
  const pick = spreadIndices(heldOut.n, n); // held-out rows are in dataset order (e.g. by class)
  if (n > 0) {
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    // the last scale alone (the paper's scaling plots report it too)
    const lastL = model.config.patchNums[model.config.patchNums.length - 1] ** 2;
    let lastLossSum = 0;
    let lastCorrect = 0;
    for (let s = 0; s < n; s += 50) {
      const rows = pick.slice(s, s + 50);
      const { gt, idx } = gatherScales(heldOut, rows, vae.config.vPatchNums);
      const labels = Int32Array.from(rows, (r) => heldOut.labels[r]);
      const x = teacherInput(vae, idx, isRasterPair(vae.quantizer, model));
      tf.dispose(idx);
      const [l, c, ll, lc] = tf.tidy(() => {
        const logits = model.forward(labels, x, { training: false });
        const t = tf.tensor2d(gt, [rows.length, heldOut.L], 'int32');
        const loss = valLoss(logits, t);
        const hit = tf.cast(tf.equal(tf.argMax(logits, -1), t), 'float32');
        const B = rows.length;
        const V = logits.shape[2];
        const lastLogits = tf.slice(logits, [0, heldOut.L - lastL, 0], [B, lastL, V]) as tf.Tensor3D;
        const lastT = tf.slice(t, [0, heldOut.L - lastL], [B, lastL]);
        const lastLoss = valLoss(lastLogits, lastT);
        const lastHit = tf.slice(hit, [0, heldOut.L - lastL], [B, lastL]);
        return [loss.dataSync()[0], tf.sum(hit).dataSync()[0], lastLoss.dataSync()[0], tf.sum(lastHit).dataSync()[0]];
      });
      x.dispose();
      lossSum += l * rows.length * heldOut.L;
      correct += c;
      count += rows.length * heldOut.L;
      lastLossSum += ll * rows.length * lastL;
      lastCorrect += lc;
    }
    out.valLoss = lossSum / count;
    out.valTokenAcc = correct / count;
    out.valLossLast = lastLossSum / (n * lastL);
    out.valTokenAccLast = lastCorrect / (n * lastL);
  }
  const perClass = opts.perClass ?? 2;
  if (opts.classifier && perClass > 0 && model.config.numClasses > 1) {
    const labels = Int32Array.from({ length: perClass * model.config.numClasses }, (_, i) => i % model.config.numClasses);
    let correct = 0;
    for (let s = 0; s < labels.length; s += 50) {
      const lab = labels.subarray(s, Math.min(labels.length, s + 50));
      const res = await generate(vae, model, {
        labels: lab,
        cfg: opts.cfg ?? 2,
        topK: opts.topK ?? 0,
        topP: opts.topP ?? 0,
        seed: (opts.seed ?? 0) + s,
      });
      const imgs = tf.tidy(() => tf.sub(tf.mul(res.images!, 2), 1) as tf.Tensor4D); // [0, 1] → [-1, 1]
      res.images?.dispose();
      res.fHat.dispose();
      const pred = await opts.classifier.predict(imgs);
      imgs.dispose();
      for (let i = 0; i < lab.length; i++) if (pred[i] === lab[i]) correct++;
    }
    out.genAccuracy = correct / labels.length;
    out.genSamples = labels.length;
  }
  return out;
}

// ---------------------------------------------------------------- the run

/**
 * Train (or resume training) a VAR on a tokenizer's tokens. Resumable like
 * {@link trainTokenizer}: config.json, checkpoint.safetensors (weights, AdamW moments and
 * step, the label-dropout Rng state, data position), log.jsonl, model.safetensors at the end.
 */
export async function trainVAR(opts: TrainVAROptions): Promise<TrainResult> {
  await ensureGradients(); // tfjs-core alone registers no gradients
  const ds = await loadDataset(opts.dataset);
  const tok = await loadTokenizer(opts.tokenizer);
  const vae = tok.vae;
  let model: VAR | undefined;
  let opt: AdamW | undefined;
  let classifier: DigitClassifierLike | undefined;
  try {
    if (ds.spec.size !== vae.imageSize)
      throw new ConfigError(`dataset.size ${ds.spec.size} does not match the tokenizer's image size ${vae.imageSize}`);
    if (ds.spec.channels !== vae.config.inChannels)
      throw new ConfigError(`dataset channels ${ds.spec.channels} do not match the tokenizer's inChannels ${vae.config.inChannels}`);
    const seed = opts.seed ?? 0;
    const raster = (opts.order ?? 'next-scale') === 'raster';
    const config: VARRunConfig = {
      kind: 'var',
      version: 1,
      seed,
      ...(raster ? { order: 'raster' } : {}), // absent for next-scale: earlier runs keep their config hash
      model: varModelConfig(opts.model, vae, ds.numClasses, opts.order),
      train: resolveTrain(opts.train),
      dataset: ds.spec,
      tokenizer: { path: tok.weightsPath, sha256: tok.hash },
      run: { ...resolveSettings(opts.settings), eval: opts.eval ?? {} },
    };
    let init: Awaited<ReturnType<typeof loadVARInit>> | undefined;
    if (opts.init !== undefined) {
      init = await loadVARInit(opts.init);
      // the architecture (not the training-only options) must match; condDropRate and dropPathRate may differ
      const arch = (c: VARConfig) => canonicalJson({ ...c, condDropRate: 0, dropPathRate: 0 });
      if (arch(init.config) !== arch(config.model))
        throw new ConfigError(
          `init ${opts.init}: its model config ${canonicalJson(init.config)} differs from this run's ${canonicalJson(config.model)}`,
        );
      config.init = { path: init.weightsPath, sha256: init.hash };
    }
    const hash = configHash(config);
    const { paths } = await prepareRunDir(opts.runDir, config);
    const settings = resolveSettings(opts.settings);
    const log = new JsonlLog(paths.log);
    const tc = config.train;
    const emit: ProgressCallback = (e) => opts.onProgress?.(e);

    model = VAR.create(config.model, { seed });
    opt = new AdamW(model.trainableVariables(), { betas: tc.betas, wdScale: (n, shape) => weightDecayScale(n, shape) });
    // the passes per step, before any work: a batch that cannot fit is an OutOfMemoryError now, not a wasm abort later
    const microBatch = chooseMicroBatch(
      tc.batchSize,
      opts.train.microBatch,
      estimateTrainStepBytes(config.model, model.numParameters()),
      await availableBytes(),
    );

    const cache = await cachedTokens(vae, tok.hash, ds, opts.tokenCacheDir ?? opts.runDir, (done, total) =>
      emit({ kind: 'var', phase: 'tokens', step: 0, totalSteps: tc.steps, done, total, message: `encoding tokens ${done}/${total}` }),
    );
    const N = cache.train.n;
    const perEpoch = batchesPerEpoch(N, tc.batchSize, true);
    if (perEpoch === 0) throw new ValueError(`the training split has ${N} images, fewer than batchSize ${tc.batchSize}`);
    const rng = new Rng(seed * 2 + 1);
    let state: TrainState = { step: 0, epoch: 0, stepInEpoch: 0, elapsedSec: 0, optimizerStep: 0, configHash: hash, rng: rng.getState() };
    if (await exists(paths.checkpoint)) {
      if (opts.resume === 'never') throw new ConfigError(`${paths.checkpoint} exists and resume is 'never'; use another run directory`);
      const ck = await loadCheckpoint(paths.checkpoint, { configHash: hash });
      model.loadStateDict(ck.model);
      // the checkpoint holds the official layouts (linear weights (out, in)), as checkpoints before the model stored them transposed
      const moments = fromOfficialLayout(config.model, ck.optimizer);
      opt.setState({ step: ck.state.optimizerStep, tensors: moments }, `${paths.checkpoint} optimizer state`);
      if (ck.state.rng) rng.setState(ck.state.rng as RngState);
      state = ck.state;
      await log.truncateAfter(state.step);
      await log.append({
        type: 'resume',
        step: state.step,
        epoch: state.epoch,
        stepInEpoch: state.stepInEpoch,
        tokenCache: cache.hit ? 'hit' : 'miss',
        microBatch,
      });
      emit({ kind: 'var', phase: 'resume', step: state.step, totalSteps: tc.steps, message: `resuming at step ${state.step}` });
    } else {
      if (init) model.loadStateDict(init.stateDict);
      await log.truncateAfter(0);
      await log.append({
        type: 'start',
        step: 0,
        ...(init ? { init: init.weightsPath } : {}),
        parameters: model.numParameters(),
        trainImages: N,
        heldOutImages: cache.heldOut.n,
        tokenCache: cache.hit ? 'hit' : 'miss',
        tokenCachePath: cache.path,
        microBatch,
      });
    }
    const resumedFrom = state.step;
    const clock = new SessionClock('var', tc.steps, state.elapsedSec, settings, log, opts.onProgress);
    const ev = opts.eval ?? {};
    if (opts.classifier !== false && ds.spec.name === 'mnist' && (ev.perClass ?? 2) > 0)
      classifier = opts.classifier ?? (await loadDigitClassifier(ds.spec));
    const evaluate = async (step: number) => {
      const m = await evalVAR(model!, vae, cache.heldOut, { ...ev, classifier, seed });
      await clock.evalDone(step, m);
      return m;
    };
    const checkpoint = async () => {
      state.elapsedSec = clock.elapsedSec();
      state.optimizerStep = opt!.stepCount;
      state.rng = rng.getState();
      const optimizer = toOfficialLayout(config.model, opt!.getState().tensors); // moments in the layout of the weights (official)
      await saveCheckpoint(paths.checkpoint, { state, model: model!.stateDict(), optimizer });
      await log.append({ type: 'checkpoint', step: state.step });
      clock.checkpointWritten(state.step);
    };

    let lastLosses: Record<string, number> | undefined;
    let lastEval: Record<string, number> | undefined;
    let reason: TrainResult['reason'] = 'done';
    let sessionSteps = 0;
    clock.resetStepTimer();
    outer: while (state.step < tc.steps) {
      const order = shuffledIndices(N, seed, state.epoch);
      const flipRng = rngFor(seed, 'flip', state.epoch);
      // draw the flips of the whole epoch up front (the same draws whatever batch the run resumes at)
      const flips = ds.spec.hflip > 0 ? Array.from(order, () => flipRng.random() < ds.spec.hflip) : undefined;
      for (let s = state.stepInEpoch; s < perEpoch; s++) {
        const rows = order.subarray(s * tc.batchSize, (s + 1) * tc.batchSize);
        const bFlips = flips?.slice(s * tc.batchSize, (s + 1) * tc.batchSize);
        const { gt, idx } = gatherScales(cache.train, rows, vae.config.vPatchNums, cache.trainFlipped, bFlips);
        const labels = Int32Array.from(rows, (r) => cache.train.labels[r]);
        const x = teacherInput(vae, idx, raster);
        tf.dispose(idx);
        const { lr, wd } = lrWdAnnealing(
          tc.schedule,
          tc.lr,
          tc.weightDecay,
          tc.weightDecayEnd,
          state.step,
          tc.warmupSteps,
          tc.steps,
          0.005,
          tc.lrEndFraction,
        );
        let res: ReturnType<typeof microBatchLossGrads>;
        try {
          res = microBatchLossGrads(model, labels, x, gt, microBatch, { labelSmoothing: tc.labelSmoothing, rng });
        } finally {
          x.dispose();
        }
        if (!Number.isFinite(res.loss)) {
          tf.dispose([...res.grads.values()]);
          throw new ValueError(`VAR training diverged: loss ${res.loss} at step ${state.step}; lower train.lr`);
        }
        const gradNorm = clipGradients(res.grads, tc.gradClip);
        opt.step(res.grads, lr, wd);
        tf.dispose([...res.grads.values()]);
        state.step++;
        sessionSteps++;
        if (s + 1 < perEpoch) state.stepInEpoch = s + 1;
        else {
          state.epoch++;
          state.stepInEpoch = 0;
        }
        lastLosses = { loss: res.loss };
        await clock.stepDone(state.step, state.stepInEpoch === 0 ? state.epoch - 1 : state.epoch, lastLosses, lr, {
          wd: round(wd, 6),
          gradNorm: round(gradNorm, 5),
        });
        const finished = state.step >= tc.steps;
        const stop = !finished && opts.stopAfter !== undefined && sessionSteps >= opts.stopAfter;
        const aborted = !finished && !!opts.signal?.aborted;
        if (clock.evalDue(state.step) && !finished) lastEval = await evaluate(state.step);
        if (finished || stop || aborted || clock.checkpointDue(state.step)) await checkpoint();
        if (finished) break outer;
        if (stop || aborted) {
          reason = stop ? 'stopped' : 'aborted';
          break outer;
        }
        clock.resetStepTimer();
      }
    }
    const done = state.step >= tc.steps;
    if (done) {
      if (sessionSteps > 0 || !(await exists(paths.model))) {
        lastEval = (await evaluate(state.step)) ?? lastEval;
        await writeSafetensors(paths.model, model.stateDict(), {
          format: 'pt',
          'var-ts': 'var',
          config: JSON.stringify(config.model),
          tokenizer: tok.hash,
          step: String(state.step),
          configHash: hash,
        });
      }
      reason = 'done';
    }
    const elapsedSec = clock.elapsedSec();
    await log.append({ type: 'end', step: state.step, reason, elapsedSec: round(elapsedSec, 2) });
    emit({
      kind: 'var',
      phase: 'end',
      step: state.step,
      totalSteps: tc.steps,
      reason,
      elapsedSec,
      message: `VAR run ${reason} at step ${state.step}`,
    });
    return { runDir: opts.runDir, step: state.step, totalSteps: tc.steps, done, reason, lastLosses, resumedFrom, lastEval, elapsedSec };
  } finally {
    opt?.dispose();
    model?.dispose();
    vae.dispose();
    if (classifier && opts.classifier === undefined) classifier.dispose();
  }
}
