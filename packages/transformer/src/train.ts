/**
 * Training: the official loss and its gradients, AdamW with the official parameter groups
 * (utils/lr_control.py filter_params + train.py nowd_keys), the official lr/wd schedule
 * (lr_wd_annealing), gradient-norm clipping, conditional label dropout and progressive training.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  ConfigError,
  NonFiniteError,
  Rng,
  ValueError,
  gradientsRegistered,
  ensureGradients,
  AdamW as CoreAdamW,
  clipGradNorm as coreClipGradNorm,
} from '@var/core';
import { lossWeights, trainLoss } from './loss.js';
import type { VAR } from './model.js';
import type { RandomSource } from './rng.js';

/** train.py's `nowd_keys`: parameters whose name contains one of these get no weight decay. */
export const NO_WD_KEYS = [
  'cls_token',
  'start_token',
  'task_token',
  'cfg_uncond',
  'pos_embed',
  'pos_1LC',
  'pos_start',
  'start_pos',
  'lvl_embed',
  'gamma',
  'beta',
  'ada_gss',
  'moe_bias',
  'scale_mul',
] as const;

/** filter_params: 1-D tensors, biases and names with a nowd key are not decayed (wd scale 0). */
export function weightDecayScale(name: string, shape: readonly number[], noWdKeys: readonly string[] = NO_WD_KEYS): 0 | 1 {
  if (shape.length === 1 || name.endsWith('bias') || noWdKeys.some((k) => name.includes(k))) return 0;
  return 1;
}

export type ScheduleType = 'cos' | 'lin' | 'lin0' | 'lin00' | 'exp' | `lin${number}`;

/**
 * utils/lr_control.py lr_wd_annealing: warm-up from wp0·peak to peak over `wpIt` iterations,
 * then decay by `sche` down to wpe·peak; wd follows a half cosine from `wd` to `wdEnd`.
 */
export function lrWdAnnealing(
  sche: ScheduleType,
  peakLr: number,
  wd: number,
  wdEnd: number,
  curIt: number,
  wpIt: number,
  maxIt: number,
  wp0 = 0.005,
  wpe = 0.001,
): { lr: number; wd: number } {
  wpIt = Math.round(wpIt);
  let cur: number;
  if (curIt < wpIt) cur = wp0 + ((1 - wp0) * curIt) / wpIt;
  else {
    const pasd = (curIt - wpIt) / (maxIt - 1 - wpIt);
    const rest = 1 - pasd;
    if (sche === 'cos') cur = wpe + (1 - wpe) * (0.5 + 0.5 * Math.cos(Math.PI * pasd));
    else if (sche === 'lin') {
      const T = 0.15,
        maxRest = 1 - T;
      cur = pasd < T ? 1 : wpe + ((1 - wpe) * rest) / maxRest;
    } else if (sche === 'lin0') {
      const T = 0.05,
        maxRest = 1 - T;
      cur = pasd < T ? 1 : wpe + ((1 - wpe) * rest) / maxRest;
    } else if (sche === 'lin00') cur = wpe + (1 - wpe) * rest;
    else if (sche.startsWith('lin')) {
      const T = Number(sche.slice(3));
      if (!Number.isFinite(T)) throw new ConfigError(`unknown schedule ${sche}`);
      const maxRest = 1 - T;
      let wpeMid = wpe + (1 - wpe) * maxRest;
      wpeMid = (1 + wpeMid) / 2;
      cur = pasd < T ? 1 + ((wpeMid - 1) * pasd) / T : wpe + ((wpeMid - wpe) * rest) / maxRest;
    } else if (sche === 'exp') {
      const T = 0.15,
        maxRest = 1 - T;
      cur = pasd < T ? 1 : Math.exp(((pasd - T) / maxRest) * Math.log(wpe));
    } else throw new ConfigError(`unknown schedule type ${String(sche)}: expected cos, lin, lin0, lin00, lin<T> or exp`);
  }
  const pasdWd = curIt / (maxIt - 1);
  return { lr: cur * peakLr, wd: wdEnd + (wd - wdEnd) * (0.5 + 0.5 * Math.cos(Math.PI * pasdWd)) };
}

/**
 * tfjs-core alone registers no gradients (the umbrella @tensorflow/tfjs does). Training
 * needs them: `await ensureGradients()` from @var/core once (VARTrainer.create does it).
 */
function requireGradients(): void {
  if (!gradientsRegistered()) {
    throw new ConfigError(
      'TensorFlow.js gradients are not registered: call `await ensureGradients()` from @var/core once before training (VARTrainer.create does it for you)',
    );
  }
}

/**
 * Loss (official train loss) and d loss / d parameter for every trainable variable.
 * Nothing is left allocated except the returned gradients.
 */
export function lossGrads(
  model: VAR,
  labels: Int32Array | number[] | tf.Tensor1D,
  xBLCv: tf.Tensor3D,
  gtBL: Int32Array | number[] | tf.Tensor2D,
  opts: { labelSmoothing?: number; training?: boolean; rng?: number | RandomSource; progSi?: number; progWp?: number } = {},
): { loss: number; grads: Map<string, tf.Tensor> } {
  requireGradients();
  const vars = model.trainableVariables();
  const names = [...vars.keys()];
  const progSi = opts.progSi ?? -1;
  const weights = lossWeights(model.derived.beginEnds, progSi, opts.progWp ?? 1);
  const ed = weights.length;
  const gtArr = gtBL instanceof tf.Tensor ? gtBL.dataSync() : gtBL;
  const B = gtArr.length / model.derived.L;
  let gt: Int32Array | number[] | tf.Tensor2D = gtBL;
  if (ed !== model.derived.L) {
    const cut = new Int32Array(B * ed);
    for (let b = 0; b < B; b++) for (let i = 0; i < ed; i++) cut[b * ed + i] = gtArr[b * model.derived.L + i];
    gt = cut;
  }
  const { value, grads } = tf.variableGrads(
    () => {
      const logits = model.forward(labels, xBLCv, { training: opts.training, rng: opts.rng, progSi });
      return trainLoss(logits, gt, { labelSmoothing: opts.labelSmoothing ?? 0.1, weights });
    },
    names.map((n) => vars.get(n)!),
  );
  const loss = value.dataSync()[0];
  value.dispose();
  const out = new Map<string, tf.Tensor>();
  for (const n of names) {
    const g = grads[vars.get(n)!.name];
    out.set(n, g ?? tf.zerosLike(vars.get(n)!));
  }
  return { loss, grads: out };
}

/** Global L2 norm of the gradients, clipped in place to `maxNorm` (torch's clip_grad_norm_); from @var/core. */
export const clipGradNorm = coreClipGradNorm;

/** torch.optim.AdamW with the official defaults: betas (0.9, 0.95), wd scale from {@link weightDecayScale}. */
export class AdamW extends CoreAdamW {
  constructor(vars: Map<string, tf.Variable>, opts: { betas?: [number, number]; eps?: number; noWdKeys?: readonly string[] } = {}) {
    super(vars, { betas: opts.betas ?? [0.9, 0.95], eps: opts.eps, wdScale: (n, shape) => weightDecayScale(n, shape, opts.noWdKeys) });
  }
}

export interface TrainerOptions {
  /** Peak learning rate (official: tblr 1e-4 × batch/256). */
  peakLr: number;
  /** Total iterations (for the schedule). */
  maxIt: number;
  /** Warm-up iterations (official: ep/50 epochs). Default maxIt/50. */
  wpIt?: number;
  /** Initial weight decay (official 0.05) and final (official: same as initial). */
  weightDecay?: number;
  weightDecayEnd?: number;
  sche?: ScheduleType;
  wp0?: number;
  wpe?: number;
  /** Gradient-norm clip (official tclip 2; ≤ 0 disables). */
  gradClip?: number;
  /** Label smoothing of the training loss (official recipe 0.1). */
  labelSmoothing?: number;
  betas?: [number, number];
  /** Seed of the label dropout / drop-path randomness. */
  seed?: number;
  /** Progressive training: warm-up iterations of each new stage (official pgwp · iters). */
  progWpIt?: number;
}

export interface StepResult {
  loss: number;
  gradNorm: number;
  lr: number;
  wd: number;
  progSi: number;
  progWp: number;
}

/** VARTrainer.train_step + the schedule of train.py, for one model. Deterministic for a seed. */
export class VARTrainer {
  readonly opt: AdamW;
  readonly rng: Rng;
  private it = 0;
  private progIt = 0;
  private lastProgSi = -1;
  private firstProg = true;
  readonly options: Required<Omit<TrainerOptions, 'seed'>>;
  constructor(
    readonly model: VAR,
    opts: TrainerOptions,
  ) {
    if (!(opts.peakLr > 0)) throw new ValueError(`peakLr must be > 0, got ${opts.peakLr}`);
    if (!(Number.isInteger(opts.maxIt) && opts.maxIt > 1)) throw new ValueError(`maxIt must be an integer > 1, got ${opts.maxIt}`);
    const wd = opts.weightDecay ?? 0.05;
    this.options = {
      peakLr: opts.peakLr,
      maxIt: opts.maxIt,
      wpIt: opts.wpIt ?? opts.maxIt / 50,
      weightDecay: wd,
      weightDecayEnd: opts.weightDecayEnd ?? wd,
      sche: opts.sche ?? 'lin0',
      wp0: opts.wp0 ?? 0.005,
      wpe: opts.wpe ?? 0.01,
      gradClip: opts.gradClip ?? 2,
      labelSmoothing: opts.labelSmoothing ?? 0.1,
      betas: opts.betas ?? [0.9, 0.95],
      progWpIt: opts.progWpIt ?? 1,
    };
    this.rng = new Rng(opts.seed ?? 0);
    this.opt = new AdamW(model.trainableVariables(), { betas: this.options.betas });
  }
  /** Registers tfjs-core's gradients (`ensureGradients`) and constructs the trainer. */
  static async create(model: VAR, opts: TrainerOptions): Promise<VARTrainer> {
    await ensureGradients();
    return new VARTrainer(model, opts);
  }
  get iteration(): number {
    return this.it;
  }

  /**
   * One optimisation step on a batch: labels (B), teacher-forcing input (B, L−firstL, Cvae),
   * ground-truth tokens (B, L). `progSi` ≥ 0 trains only scales 0..progSi (progressive training).
   */
  step(labels: Int32Array | number[], xBLCv: tf.Tensor3D, gtBL: Int32Array | number[], opts: { progSi?: number } = {}): StepResult {
    const o = this.options;
    const { lr, wd } = lrWdAnnealing(o.sche, o.peakLr, o.weightDecay, o.weightDecayEnd, this.it, o.wpIt, o.maxIt, o.wp0, o.wpe);
    let progSi = opts.progSi ?? -1;
    if (this.lastProgSi !== progSi) {
      if (this.lastProgSi !== -1) this.firstProg = false;
      this.lastProgSi = progSi;
      this.progIt = 0;
    }
    this.progIt++;
    let progWp = Math.max(Math.min(this.progIt / o.progWpIt, 1), 0.01);
    if (this.firstProg) progWp = 1;
    if (progSi === this.model.config.patchNums.length - 1) progSi = -1;
    const { loss, grads } = lossGrads(this.model, labels, xBLCv, gtBL, {
      labelSmoothing: o.labelSmoothing,
      training: true,
      rng: this.rng,
      progSi,
      progWp,
    });
    if (!Number.isFinite(loss)) {
      tf.dispose([...grads.values()]);
      throw new NonFiniteError(`training loss is ${loss} at iteration ${this.it}`);
    }
    const gradNorm = clipGradNorm(grads, o.gradClip);
    this.opt.step(grads, lr, wd);
    tf.dispose([...grads.values()]);
    this.it++;
    return { loss, gradNorm, lr, wd, progSi, progWp };
  }
  dispose(): void {
    this.opt.dispose();
  }
}
