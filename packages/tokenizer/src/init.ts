/**
 * Seeded random initialisation of VQVAE parameters with PyTorch's default rules
 * (the official VQVAE keeps the defaults of nn.Conv2d / nn.GroupNorm / nn.Embedding):
 *
 * - Conv2d weight and bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5))
 * - GroupNorm: weight 1, bias 0
 * - Embedding (codebook): N(0, 1), or the official `eini` rule when `codebookInit` is given
 *   (> 0: truncated normal with that std, < 0: U(-|e|/V, |e|/V)).
 */
import type { RandomSource } from '@var/core';
import type { StateEntry } from './shapes.js';

export interface InitOptions {
  /** Official `eini`: > 0 normal with this std truncated to [-2, 2] (torch trunc_normal_), < 0 uniform ±|e|/V; 0 or absent: N(0,1). */
  codebookInit?: number;
}

/** Values of one state entry in PyTorch layout (row-major over `entry.shape`). */
export function initEntry(entry: StateEntry, rng: Pick<RandomSource, 'random' | 'normal'>, opts: InitOptions = {}): Float32Array {
  const n = entry.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  switch (entry.kind) {
    case 'conv-weight':
    case 'conv-bias': {
      // fan_in of the weight this entry belongs to; a bias entry carries only (out), so
      // the caller passes the fan in through `fanIn` below.
      const fanIn = (entry as StateEntry & { fanIn?: number }).fanIn ?? entry.shape.slice(1).reduce((a, b) => a * b, 1);
      const bound = 1 / Math.sqrt(fanIn);
      for (let i = 0; i < n; i++) out[i] = (2 * rng.random() - 1) * bound;
      break;
    }
    case 'norm-weight':
      out.fill(1);
      break;
    case 'norm-bias':
    case 'buffer':
      break;
    case 'embedding': {
      const e = opts.codebookInit ?? 0;
      const V = entry.shape[0];
      if (e > 0) {
        for (let i = 0; i < n; i++) {
          let v: number;
          do v = rng.normal() * e;
          while (v < -2 || v > 2); // torch trunc_normal_: absolute bounds [-2, 2]
          out[i] = v;
        }
      } else if (e < 0) {
        const b = Math.abs(e) / V;
        for (let i = 0; i < n; i++) out[i] = (2 * rng.random() - 1) * b;
      } else {
        for (let i = 0; i < n; i++) out[i] = rng.normal();
      }
      break;
    }
  }
  return out;
}
