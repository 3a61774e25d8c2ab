/**
 * AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments),
 * with a per-parameter weight-decay scale (the official parameter groups: 0 for biases,
 * norms and the keys the caller lists) and a saveable state, so a resumed run continues
 * exactly where it stopped. Shared by @var/transformer's trainer and @var/train's runs.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError } from '../errors.js';

export interface AdamWOptions {
  /** (beta1, beta2); default (0.9, 0.999) as torch. */
  betas?: [number, number];
  eps?: number;
  /** Weight-decay scale of a parameter (default 1 for all). */
  wdScale?: (name: string, shape: readonly number[]) => number;
}

/** One moment tensor of the saved state (structurally a float32 `RawTensor` of @var/checkpoint). */
export interface MomentTensor {
  dtype: 'F32';
  shape: number[];
  data: Float32Array;
}

/** Saved optimiser state: step count and the moments as `m.<name>` / `v.<name>`. */
export interface AdamWState {
  step: number;
  tensors: ReadonlyMap<string, { dtype: string; shape: number[]; data: ArrayLike<number | bigint> }>;
}

export class AdamW {
  readonly betas: [number, number];
  readonly eps: number;
  /** Weight-decay scale per parameter name. */
  readonly wdScale = new Map<string, number>();
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private t = 0;

  constructor(
    private readonly vars: Map<string, tf.Variable>,
    opts: AdamWOptions = {},
  ) {
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    for (const [n, p] of vars) {
      this.wdScale.set(n, opts.wdScale ? opts.wdScale(n, p.shape) : 1);
      const z = tf.zerosLike(p);
      this.m.set(n, tf.variable(z, false));
      this.v.set(n, tf.variable(z, false));
      z.dispose();
    }
  }

  /** Number of updates done. */
  get stepCount(): number {
    return this.t;
  }

  /** One update with learning rate `lr` and weight decay `wd` (× the parameter's scale). */
  step(grads: Map<string, tf.Tensor>, lr: number, wd = 0): void {
    this.t++;
    const [b1, b2] = this.betas;
    const stepSize = lr / (1 - b1 ** this.t);
    const sqrtBc2 = Math.sqrt(1 - b2 ** this.t);
    for (const [n, p] of this.vars) {
      const g = grads.get(n);
      if (!g) continue;
      tf.tidy(() => {
        const m = this.m.get(n)!;
        const v = this.v.get(n)!;
        const decay = lr * wd * this.wdScale.get(n)!;
        const pd = decay !== 0 ? tf.mul(p, 1 - decay) : p;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), this.eps);
        p.assign(tf.sub(pd, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  /** The moments as float32 tensors `m.<name>` / `v.<name>` and the step count. */
  getState(): { step: number; tensors: Map<string, MomentTensor> } {
    const tensors = new Map<string, MomentTensor>();
    for (const [kind, map] of [
      ['m', this.m],
      ['v', this.v],
    ] as const) {
      for (const [n, t] of map) {
        tensors.set(`${kind}.${n}`, { dtype: 'F32', shape: [...t.shape], data: new Float32Array(t.dataSync() as Float32Array) });
      }
    }
    return { step: this.t, tensors };
  }

  /**
   * Restore a state from {@link getState}.
   * @throws CheckpointError when a moment is missing, has another shape or dtype, or the step is invalid
   */
  setState(state: AdamWState, label = 'optimizer state'): void {
    const problems: string[] = [];
    for (const kind of ['m', 'v'] as const) {
      for (const [n, t] of kind === 'm' ? this.m : this.v) {
        const raw = state.tensors.get(`${kind}.${n}`);
        if (!raw) problems.push(`missing ${kind}.${n}`);
        else if (raw.shape.join(',') !== t.shape.join(','))
          problems.push(`${kind}.${n}: shape [${raw.shape}] but the parameter is [${t.shape}]`);
        else if (raw.dtype !== 'F32') problems.push(`${kind}.${n}: dtype ${raw.dtype}, expected F32`);
      }
    }
    if (!(Number.isInteger(state.step) && state.step >= 0)) problems.push(`step must be an integer >= 0, got ${state.step}`);
    if (problems.length)
      throw new CheckpointError(
        `${label}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (+${problems.length - 8} more)` : ''}`,
      );
    for (const kind of ['m', 'v'] as const) {
      for (const [n, t] of kind === 'm' ? this.m : this.v) {
        const raw = state.tensors.get(`${kind}.${n}`)!;
        const x = tf.tensor(raw.data as Float32Array, raw.shape, 'float32');
        t.assign(x);
        x.dispose();
      }
    }
    this.t = state.step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Global L2 norm of the gradients; when above `maxNorm` (> 0) they are scaled down in place
 * (new tensors replace the old, which are disposed), as torch's clip_grad_norm_.
 */
export function clipGradNorm(grads: Map<string, tf.Tensor>, maxNorm: number): number {
  const total = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))).dataSync()[0]);
  if (maxNorm > 0) {
    const coef = Math.min(maxNorm / (total + 1e-6), 1);
    if (coef < 1) {
      for (const [k, g] of grads) {
        grads.set(k, tf.mul(g, coef));
        g.dispose();
      }
    }
  }
  return total;
}
