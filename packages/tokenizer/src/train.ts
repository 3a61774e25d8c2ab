/**
 * Training the VQVAE: the objective of the official training forward
 * (`VQVAE.forward` → `VectorQuantizer2.forward`, models/quant.py) plus a reconstruction
 * term, its gradients and an optimiser step.
 *
 * loss = recWeight · rec(decoder(post_quant_conv(f_hat_ste)), img) + vqWeight · vq
 *   vq = mean over scales of [ beta · mse(f_hat.detach(), f) + mse(f_hat, f.detach()) ]
 *   f_hat_ste = (f_hat − f).detach() + f   (straight-through estimator)
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, gradientsRegistered, ValueError } from '@var/core';
import type { VQVAE } from './vqvae.js';

export interface VQVAELossOptions {
  /** Weight of the reconstruction term (default 1). */
  recWeight?: number;
  /** Weight of the quantiser term (default 1). */
  vqWeight?: number;
  /** Reconstruction distance: mean squared error (default) or mean absolute error. */
  recLoss?: 'mse' | 'l1';
}

export interface VQVAELossTensors {
  loss: tf.Scalar;
  recLoss: tf.Scalar;
  vqLoss: tf.Scalar;
  /** Decoder output (not clamped), (B,3,H,W). */
  rec: tf.Tensor4D;
  /** Token indices chosen per scale. */
  idx: tf.Tensor2D[];
}

/**
 * The training objective as tensors. Allocates intermediates: call it inside
 * `tf.tidy`, `tf.variableGrads` or an optimiser's `minimize`.
 */
export function vqvaeLossTensors(vae: VQVAE, img: tf.Tensor4D, opts: VQVAELossOptions = {}): VQVAELossTensors {
  const f = vae.encodeRaw(img, true);
  const q = vae.quantizer.forwardTrain(f);
  const rec = vae.decodeRaw(q.fHat, true);
  const recLoss = (opts.recLoss === 'l1' ? tf.mean(tf.abs(tf.sub(rec, img))) : tf.mean(tf.squaredDifference(rec, img))) as tf.Scalar;
  const loss = tf.add(tf.mul(recLoss, opts.recWeight ?? 1), tf.mul(q.vqLoss, opts.vqWeight ?? 1)) as tf.Scalar;
  return { loss, recLoss, vqLoss: q.vqLoss, rec, idx: q.idx };
}

/**
 * tfjs-core alone registers no gradients (the umbrella @tensorflow/tfjs does): training needs
 * `await ensureGradients()` from @var/core once (tfjs-core's gradients; their speed on each
 * backend is @var/core's concern).
 */
function requireGradients(): void {
  if (!gradientsRegistered()) {
    throw new ConfigError('TensorFlow.js gradients are not registered: call `await ensureGradients()` from @var/core once before training');
  }
}

export interface VQVAEGradients {
  loss: number;
  recLoss: number;
  vqLoss: number;
  /** d loss / d parameter by official name (every trainable variable), in the model's internal layout (conv weights (kh, kw, in, out)). */
  grads: Map<string, tf.Tensor>;
}

/** Loss values and gradients w.r.t. every trainable variable (the caller disposes `grads`). */
export function vqvaeGradients(
  vae: VQVAE,
  img: tf.Tensor4D,
  opts: VQVAELossOptions & {
    /** Only parameters whose official name passes get gradients (default: all), e.g. the decoder for decoder-only fine-tuning. */
    trainable?: (name: string) => boolean;
  } = {},
): VQVAEGradients {
  vae.checkImage('train: img', img, true);
  requireGradients();
  const vars = new Map([...vae.trainableVariables()].filter(([name]) => !opts.trainable || opts.trainable(name)));
  if (vars.size === 0) throw new ValueError('vqvaeGradients: the trainable filter selects no parameter');
  const byTfName = new Map<string, string>();
  for (const [name, v] of vars) byTfName.set(v.name, name);
  let parts: tf.Scalar[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const t = vqvaeLossTensors(vae, img, opts);
    parts = [tf.keep(t.recLoss), tf.keep(t.vqLoss)];
    return t.loss;
  }, [...vars.values()]);
  const out = new Map<string, tf.Tensor>();
  for (const [tfName, g] of Object.entries(grads)) out.set(byTfName.get(tfName)!, g);
  // parameters the loss does not reach (e.g. a phi module no scale selects) get zeros, as PyTorch's zero_grad would leave them
  for (const [name, v] of vars) if (!out.has(name)) out.set(name, tf.zerosLike(v));
  const [loss, rec, vq] = [value, ...parts].map((t) => {
    const v = t.dataSync()[0];
    t.dispose();
    return v;
  });
  return { loss, recLoss: rec, vqLoss: vq, grads: out };
}

export interface TrainerOptions extends VQVAELossOptions {
  /** Adam learning rate (default 1e-3). Ignored when `optimizer` is given. */
  learningRate?: number;
  /** Any tfjs optimiser (default `tf.train.adam(learningRate, 0.9, 0.999, 1e-8)`). */
  optimizer?: tf.Optimizer;
}

export interface StepResult {
  loss: number;
  recLoss: number;
  vqLoss: number;
}

/** Optimises a VQVAE with its training objective, one batch per {@link step}. */
export class VQVAETrainer {
  readonly optimizer: tf.Optimizer;
  private readonly ownsOptimizer: boolean;
  steps = 0;

  constructor(
    readonly vae: VQVAE,
    private readonly opts: TrainerOptions = {},
  ) {
    const lr = opts.learningRate ?? 1e-3;
    if (!(lr > 0)) throw new ValueError(`VQVAETrainer: learningRate must be > 0; got ${lr}`);
    this.optimizer = opts.optimizer ?? tf.train.adam(lr, 0.9, 0.999, 1e-8);
    this.ownsOptimizer = !opts.optimizer;
  }

  /** One optimiser step on `img` (B,3,H,W) in [-1,1]; returns the loss before the step. */
  step(img: tf.Tensor4D): StepResult {
    const { loss, recLoss, vqLoss, grads } = vqvaeGradients(this.vae, img, this.opts);
    const vars = this.vae.trainableVariables();
    const named: tf.NamedTensorMap = {};
    for (const [name, g] of grads) named[vars.get(name)!.name] = g;
    this.optimizer.applyGradients(named);
    tf.dispose([...grads.values()]);
    this.steps++;
    return { loss, recLoss, vqLoss };
  }

  /** Free the optimiser state (when the trainer created the optimiser). */
  dispose(): void {
    if (this.ownsOptimizer) this.optimizer.dispose();
  }
}
