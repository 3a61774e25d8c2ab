/**
 * Tokenizer (multi-scale VQVAE) training as a resumable run.
 *
 * Objective: @var/tokenizer's `vqvaeGradients` (reconstruction + the official multi-scale
 * VQ loss with straight-through estimator); optimiser: {@link AdamW} with warm-up + cosine
 * learning rate, optional gradient clipping. Evaluation on held-out images: reconstruction
 * MSE / PSNR, codebook usage, and for MNIST the digit classifier's accuracy on the
 * reconstructions.
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeSafetensors, type StateDict } from '@var/checkpoint';
import { ConfigError, ensureGradients, ValueError } from '@var/core';
import { batches, batchesPerEpoch } from '@var/data';
import { resolveVQVAEConfig, VQVAE, vqvaeGradients, type VQVAEConfig } from '@var/tokenizer';
import { loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { loadDataset, type DatasetSpec, type LoadedDataset } from './dataset.js';
import { clipGradients, AdamW } from './optim.js';
import { canonicalJson, exists, JsonlLog, prepareRunDir, readModelFile, sha256 } from './run-dir.js';
import { learningRateAt, resolveSettings, round, SessionClock, type RunSettings, type SessionOptions } from './session.js';
import { evalImages, loadDigitClassifier, type DigitClassifierLike } from './eval.js';

/** Hyper-parameters of tokenizer training (part of config.json, compared on resume). */
export interface TokenizerTrainConfig {
  /** Total optimisation steps. */
  steps: number;
  batchSize: number;
  /** Peak learning rate (default 1e-3). */
  lr?: number;
  /** Linear warm-up steps (default steps/50). */
  warmupSteps?: number;
  /** Final learning rate as a fraction of the peak (cosine decay; default 0.05). */
  lrEndFraction?: number;
  /** Adam betas (default [0.9, 0.99]). */
  betas?: [number, number];
  /** Decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Clip the global gradient norm (default 0 = off). */
  gradClip?: number;
  /** Reconstruction distance (default 'mse'). */
  recLoss?: 'mse' | 'l1';
  recWeight?: number;
  vqWeight?: number;
  /**
   * Which parameters train (default 'all'). 'decoder': only `decoder.*` and
   * `post_quant_conv.*` — the encoder and codebook stay fixed, so every image keeps its
   * tokens and a VAR trained on them stays valid (fine-tune with `init`).
   */
  trainable?: 'all' | 'decoder';
}

/** Training options with defaults filled in (`trainable` only when not 'all'). */
export type ResolvedTokenizerTrainConfig = Required<Omit<TokenizerTrainConfig, 'trainable'>> & { trainable?: 'decoder' };

export interface TokenizerRunConfig {
  kind: 'tokenizer';
  version: number;
  seed: number;
  model: VQVAEConfig;
  train: ResolvedTokenizerTrainConfig;
  dataset: LoadedDataset['spec'];
  run?: RunSettings & { evalSamples?: number };
  [key: string]: unknown;
}

export interface TrainTokenizerOptions extends SessionOptions {
  /** The run directory (created; resumed when it holds a checkpoint of the same config). */
  runDir: string;
  /** VQVAE config (defaults of @var/tokenizer filled in); `vPatchNums` sets the patch nums. */
  model: Partial<VQVAEConfig>;
  dataset: DatasetSpec;
  train: TokenizerTrainConfig;
  /** Seed of the initialisation, data order and flips (default 0). */
  seed?: number;
  settings?: RunSettings;
  /** Held-out images used by each evaluation (default 500; 0 disables evaluation). */
  evalSamples?: number;
  /** Digit classifier for MNIST evaluation: default the one of @var/metrics; `false` to skip. */
  classifier?: DigitClassifierLike | false;
  /** 'auto' (default): resume when a checkpoint exists; 'never': fail if the run dir has one. */
  resume?: 'auto' | 'never';
  /**
   * Fine-tune: start from the weights of a finished tokenizer (its run directory or model
   * file, see {@link loadTokenizer}) instead of a fresh initialisation. Its model config must
   * equal `model` except for `vPatchNums` (the scales carry no weights, so a multi-scale
   * tokenizer can be fine-tuned into a single-scale one); its path and SHA-256 are recorded
   * in config.json.
   */
  init?: string;
}

export interface TrainResult {
  runDir: string;
  /** Steps done in total. */
  step: number;
  totalSteps: number;
  /** Whether the run reached its last step. */
  done: boolean;
  reason: 'done' | 'stopped' | 'aborted';
  /** Loss terms of the last step of this session (undefined when no step ran). */
  lastLosses?: Record<string, number>;
  /** The step this session started from (0 = fresh). */
  resumedFrom: number;
  /** Last evaluation. */
  lastEval?: Record<string, number>;
  elapsedSec: number;
}

function resolveTrainConfig(t: TokenizerTrainConfig): ResolvedTokenizerTrainConfig {
  if (!t || !(Number.isInteger(t.steps) && t.steps > 0))
    throw new ConfigError(`train.steps must be a positive integer; got ${JSON.stringify(t?.steps)}`);
  if (!(Number.isInteger(t.batchSize) && t.batchSize > 0))
    throw new ConfigError(`train.batchSize must be a positive integer; got ${JSON.stringify(t.batchSize)}`);
  const r: ResolvedTokenizerTrainConfig = {
    steps: t.steps,
    batchSize: t.batchSize,
    lr: t.lr ?? 1e-3,
    warmupSteps: t.warmupSteps ?? Math.round(t.steps / 50),
    lrEndFraction: t.lrEndFraction ?? 0.05,
    betas: t.betas ?? [0.9, 0.99],
    weightDecay: t.weightDecay ?? 0,
    gradClip: t.gradClip ?? 0,
    recLoss: t.recLoss ?? 'mse',
    recWeight: t.recWeight ?? 1,
    vqWeight: t.vqWeight ?? 1,
  };
  if (t.trainable !== undefined && t.trainable !== 'all' && t.trainable !== 'decoder')
    throw new ConfigError(`train.trainable must be 'all' or 'decoder'; got ${JSON.stringify(t.trainable)}`);
  if (t.trainable === 'decoder') r.trainable = 'decoder'; // 'all' is left out of config.json: runs made before the option keep their hash
  if (!(r.lr > 0)) throw new ConfigError(`train.lr must be > 0; got ${r.lr}`);
  if (!(r.warmupSteps >= 0)) throw new ConfigError(`train.warmupSteps must be >= 0; got ${r.warmupSteps}`);
  return r;
}

/** Parameters of the decoder side (official names): what `trainable: 'decoder'` trains. */
export function isDecoderParameter(name: string): boolean {
  return name.startsWith('decoder.') || name.startsWith('post_quant_conv.');
}

/** The config.json a tokenizer run would have (validates the options). */
export function tokenizerRunConfig(
  opts: Pick<TrainTokenizerOptions, 'model' | 'dataset' | 'train' | 'seed' | 'settings' | 'evalSamples'>,
  ds?: LoadedDataset,
): TokenizerRunConfig {
  const model = resolveVQVAEConfig(opts.model);
  const dataset = ds?.spec ?? (opts.dataset as LoadedDataset['spec']);
  const ch = dataset.channels ?? (dataset.name === 'mnist' ? 1 : 3);
  if (model.inChannels !== ch) throw new ConfigError(`model.inChannels (${model.inChannels}) must equal the dataset's channels (${ch})`);
  const downsample = 2 ** (model.chMult.length - 1);
  const side = model.vPatchNums[model.vPatchNums.length - 1] * downsample;
  if (dataset.size !== side) {
    throw new ConfigError(
      `dataset.size ${dataset.size} does not match the tokenizer: last patch num ${model.vPatchNums[model.vPatchNums.length - 1]} × downsample ${downsample} = ${side}`,
    );
  }
  const seed = opts.seed ?? 0;
  if (!Number.isSafeInteger(seed)) throw new ConfigError(`seed must be a safe integer; got ${seed}`);
  return {
    kind: 'tokenizer',
    version: 1,
    seed,
    model,
    train: resolveTrainConfig(opts.train),
    dataset,
    run: { ...resolveSettings(opts.settings), evalSamples: opts.evalSamples ?? 500 },
  };
}

/** Hash of the parts of a run config that determine its results. */
export function configHash(config: { run?: unknown }): string {
  const { run: _run, ...rest } = config as Record<string, unknown>;
  return sha256(canonicalJson(rest));
}

/** Weights-only state dict file of a tokenizer (official names/layouts) with its config in the metadata. */
export async function writeTokenizerModel(path: string, vae: VQVAE, extra: Record<string, string> = {}): Promise<void> {
  await writeSafetensors(path, vae.stateDict() as unknown as StateDict, {
    format: 'pt',
    'var-ts': 'vqvae',
    config: JSON.stringify(vae.config),
    ...extra,
  });
}

/**
 * Train (or resume training) a tokenizer. Returns when the run is done, `stopAfter` steps
 * were done, or `signal` aborted (a checkpoint is written in every case). Frees every
 * tensor it allocates.
 */
export async function trainTokenizer(opts: TrainTokenizerOptions): Promise<TrainResult> {
  await ensureGradients(); // tfjs-core alone registers no gradients
  const ds = await loadDataset(opts.dataset);
  const config = tokenizerRunConfig(opts, ds);
  let initFrom: VQVAE | undefined;
  if (opts.init !== undefined) {
    const init = await loadTokenizer(opts.init);
    initFrom = init.vae;
    // the quantiser's scales carry no weights: a tokenizer may be fine-tuned to other vPatchNums (e.g. single-scale)
    const withoutScales = (c: VQVAEConfig) => canonicalJson({ ...c, vPatchNums: [] });
    if (withoutScales(init.vae.config) !== withoutScales(config.model)) {
      init.vae.dispose();
      throw new ConfigError(
        `init ${opts.init}: its model config ${canonicalJson(init.vae.config)} differs from this run's ${canonicalJson(config.model)}`,
      );
    }
    config.init = { path: init.weightsPath, sha256: init.hash };
  }
  const hash = configHash(config);
  const { paths } = await prepareRunDir(opts.runDir, config);
  const settings = resolveSettings(opts.settings);
  const log = new JsonlLog(paths.log);
  const tc = config.train;
  const perEpoch = batchesPerEpoch(ds.train.length, tc.batchSize, true);
  if (perEpoch === 0) throw new ValueError(`the training split has ${ds.train.length} images, fewer than batchSize ${tc.batchSize}`);

  const trainable = tc.trainable === 'decoder' ? isDecoderParameter : undefined;
  if (tc.trainable === 'decoder' && !initFrom) throw new ConfigError("train.trainable 'decoder' fine-tunes a trained tokenizer: give init");
  const vae = VQVAE.create(config.model, { seed: config.seed });
  if (initFrom) {
    vae.loadStateDict(initFrom.stateDict() as never);
    initFrom.dispose();
  }
  const opt = new AdamW(vae.trainableVariables(), {
    betas: tc.betas,
    wdScale: (n, shape) => (shape.length === 1 || n.endsWith('bias') ? 0 : 1),
  });
  let classifier: DigitClassifierLike | undefined;
  try {
    let state: TrainState = { step: 0, epoch: 0, stepInEpoch: 0, elapsedSec: 0, optimizerStep: 0, configHash: hash };
    if (await exists(paths.checkpoint)) {
      if (opts.resume === 'never') throw new ConfigError(`${paths.checkpoint} exists and resume is 'never'; use another run directory`);
      const ck = await loadCheckpoint(paths.checkpoint, { configHash: hash });
      vae.loadStateDict(ck.model as never);
      opt.setState({ step: ck.state.optimizerStep, tensors: ck.optimizer }, `${paths.checkpoint} optimizer state`);
      state = ck.state;
      await log.truncateAfter(state.step);
      await log.append({ type: 'resume', step: state.step, epoch: state.epoch, stepInEpoch: state.stepInEpoch });
      opts.onProgress?.({
        kind: 'tokenizer',
        phase: 'resume',
        step: state.step,
        totalSteps: tc.steps,
        message: `resuming at step ${state.step}`,
      });
    } else {
      await log.truncateAfter(0);
      await log.append({
        type: 'start',
        step: 0,
        parameters: vae.numParameters(),
        trainImages: ds.train.length,
        heldOutImages: ds.heldOut.length,
      });
    }
    const resumedFrom = state.step;
    const clock = new SessionClock('tokenizer', tc.steps, state.elapsedSec, settings, log, opts.onProgress);
    const evalSamples = Math.min(opts.evalSamples ?? 500, ds.heldOut.length);
    if (opts.classifier !== false && ds.spec.name === 'mnist' && evalSamples > 0)
      classifier = opts.classifier ?? (await loadDigitClassifier(ds.spec));

    const evaluate = async (step: number) => {
      if (evalSamples <= 0) return undefined;
      const m = await evalImages(vae, ds, evalSamples, classifier);
      await clock.evalDone(step, m);
      return m;
    };

    const checkpoint = async () => {
      state.elapsedSec = clock.elapsedSec();
      state.optimizerStep = opt.stepCount;
      const o = opt.getState();
      await saveCheckpoint(paths.checkpoint, { state, model: vae.stateDict() as unknown as StateDict, optimizer: o.tensors });
      await log.append({ type: 'checkpoint', step: state.step });
      clock.checkpointWritten(state.step);
    };

    let lastLosses: Record<string, number> | undefined;
    let lastEval: Record<string, number> | undefined;
    let reason: TrainResult['reason'] = 'done';
    let sessionSteps = 0;
    if (state.step < tc.steps) {
      const epochs = state.epoch + Math.ceil((tc.steps - state.step) / perEpoch) + 1;
      const it = batches(ds.train, {
        batchSize: tc.batchSize,
        ...ds.imageOptions,
        seed: config.seed,
        dropLast: true,
        epochs,
        startEpoch: state.epoch,
        startStep: state.stepInEpoch,
        hflip: ds.spec.hflip,
      });
      clock.resetStepTimer();
      for await (const b of it) {
        const lr = learningRateAt(state.step, tc.steps, tc.lr, tc.warmupSteps, tc.lrEndFraction);
        const g = vqvaeGradients(vae, b.images, { recLoss: tc.recLoss, recWeight: tc.recWeight, vqWeight: tc.vqWeight, trainable });
        if (!Number.isFinite(g.loss)) {
          tf.dispose([...g.grads.values()]);
          throw new ValueError(`tokenizer training diverged: loss ${g.loss} at step ${state.step}; lower train.lr or set train.gradClip`);
        }
        const gradNorm = clipGradients(g.grads, tc.gradClip);
        opt.step(g.grads, lr, tc.weightDecay);
        tf.dispose([...g.grads.values()]);
        state.step++;
        sessionSteps++;
        if (b.step + 1 < perEpoch) {
          state.epoch = b.epoch;
          state.stepInEpoch = b.step + 1;
        } else {
          state.epoch = b.epoch + 1;
          state.stepInEpoch = 0;
        }
        lastLosses = { loss: g.loss, recLoss: g.recLoss, vqLoss: g.vqLoss };
        await clock.stepDone(state.step, b.epoch, lastLosses, lr, { gradNorm: round(gradNorm, 5) });
        const finished = state.step >= tc.steps;
        const stop = !finished && opts.stopAfter !== undefined && sessionSteps >= opts.stopAfter;
        const aborted = !finished && !!opts.signal?.aborted;
        if (clock.evalDue(state.step) && !finished) lastEval = await evaluate(state.step);
        if (finished || stop || aborted || clock.checkpointDue(state.step)) await checkpoint();
        if (finished) break;
        if (stop || aborted) {
          reason = stop ? 'stopped' : 'aborted';
          break;
        }
        clock.resetStepTimer();
      }
    }
    const done = state.step >= tc.steps;
    if (done) {
      if (sessionSteps > 0 || !(await exists(paths.model))) {
        lastEval = (await evaluate(state.step)) ?? lastEval;
        await writeTokenizerModel(paths.model, vae, { step: String(state.step), configHash: hash });
      }
      reason = 'done';
    }
    const elapsedSec = clock.elapsedSec();
    await log.append({ type: 'end', step: state.step, reason, elapsedSec: round(elapsedSec, 2) });
    opts.onProgress?.({
      kind: 'tokenizer',
      phase: 'end',
      step: state.step,
      totalSteps: tc.steps,
      reason,
      elapsedSec,
      message: `tokenizer run ${reason} at step ${state.step}`,
    });
    return { runDir: opts.runDir, step: state.step, totalSteps: tc.steps, done, reason, lastLosses, resumedFrom, lastEval, elapsedSec };
  } finally {
    opt.dispose();
    vae.dispose();
    if (classifier && opts.classifier === undefined) classifier.dispose();
  }
}

/**
 * Load a tokenizer from a finished run directory (its model.safetensors) or a model file (config in
 * its metadata, or in the `model-card.json` beside it: a bundled model's vae.safetensors).
 */
export async function loadTokenizer(pathOrRunDir: string): Promise<{ vae: VQVAE; weightsPath: string; hash: string }> {
  const m = await readModelFile<Partial<VQVAEConfig>>(pathOrRunDir, 'tokenizer', {
    notFound: (p) => `tokenizer not found: ${p}`,
    unfinished: (p) => `${p} has no model.safetensors yet: the tokenizer run has not finished (run it to the end first)`,
    noConfig: (f) =>
      `${f} has no VQVAE config in its metadata (write it with writeTokenizerModel) and no model-card.json beside it names it`,
  });
  const vae = VQVAE.fromStateDict(m.tensors as never, m.config);
  return { vae, weightsPath: m.file, hash: m.hash };
}
