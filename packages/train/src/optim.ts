/**
 * AdamW (torch.optim.AdamW: decoupled weight decay, bias-corrected moments) whose whole
 * state — first and second moments and the step count — can be saved and restored, so a
 * resumed run continues exactly where it stopped. Weight decay is scaled per parameter
 * (0 for biases, norms, embeddings listed by the caller), as the official parameter groups.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError } from '@var/core';
import type { RawTensor, StateDict } from '@var/checkpoint';

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  /** Weight-decay scale of a parameter (default 1 for all). */
  wdScale?: (name: string, shape: readonly number[]) => number;
}

export class AdamW {
  readonly betas: [number, number];
  readonly eps: number;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private readonly scale = new Map<string, number>();
  private t = 0;

  constructor(
    private readonly vars: Map<string, tf.Variable>,
    opts: AdamWOptions = {},
  ) {
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    for (const [n, p] of vars) {
      this.scale.set(n, opts.wdScale ? opts.wdScale(n, p.shape) : 1);
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
    const bc1 = 1 - b1 ** this.t;
    const sqrtBc2 = Math.sqrt(1 - b2 ** this.t);
    const stepSize = lr / bc1;
    for (const [n, p] of this.vars) {
      const g = grads.get(n);
      if (!g) continue;
      tf.tidy(() => {
        const m = this.m.get(n)!;
        const v = this.v.get(n)!;
        const decay = lr * wd * this.scale.get(n)!;
        const pd = decay !== 0 ? tf.mul(p, 1 - decay) : p;
        m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)));
        v.assign(tf.add(tf.mul(v, b2), tf.mul(tf.square(g), 1 - b2)));
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), this.eps);
        p.assign(tf.sub(pd, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  /** The moments as tensors `m.<name>` / `v.<name>` (float32, the variables' shapes) and the step count. */
  getState(): { step: number; tensors: StateDict } {
    const tensors: StateDict = new Map();
    for (const [kind, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [n, t] of map) {
        const raw: RawTensor = { dtype: 'F32', shape: [...t.shape], data: new Float32Array(t.dataSync() as Float32Array) };
        tensors.set(`${kind}.${n}`, raw);
      }
    }
    return { step: this.t, tensors };
  }

  /**
   * Restore a state from {@link getState}.
   * @throws CheckpointError when a moment is missing or has another shape
   */
  setState(state: { step: number; tensors: StateDict }, label = 'optimizer state'): void {
    const problems: string[] = [];
    for (const kind of ['m', 'v'] as const) {
      for (const [n, t] of kind === 'm' ? this.m : this.v) {
        const raw = state.tensors.get(`${kind}.${n}`);
        if (!raw) problems.push(`missing ${kind}.${n}`);
        else if (raw.shape.join(',') !== t.shape.join(',')) problems.push(`${kind}.${n}: shape [${raw.shape}] but the parameter is [${t.shape}]`);
        else if (raw.dtype !== 'F32') problems.push(`${kind}.${n}: dtype ${raw.dtype}, expected F32`);
      }
    }
    if (!(Number.isInteger(state.step) && state.step >= 0)) problems.push(`step must be an integer >= 0, got ${state.step}`);
    if (problems.length) throw new CheckpointError(`${label}: ${problems.slice(0, 8).join('; ')}${problems.length > 8 ? ` (+${problems.length - 8} more)` : ''}`);
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

/** Global L2 norm of the gradients; when above `maxNorm` (> 0) they are scaled down in place (torch's clip_grad_norm_). */
export function clipGradients(grads: Map<string, tf.Tensor>, maxNorm: number): number {
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
