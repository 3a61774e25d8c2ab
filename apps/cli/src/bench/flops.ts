/**
 * Analytic FLOP counts of one generation (multiply-add = 2 FLOPs; matmuls and convolutions
 * only: normalisations, activations, softmax and the sampler are not counted), used to turn
 * the benchmark's phase times into achieved GFLOP/s.
 */
import { convFlops, type VQVAEConfig } from '@var/tokenizer';
import type { VARConfig } from '@var/transformer';

/** FLOPs of the transformer phase of a KV-cached generation. */
export interface TransformerFlops {
  /** Session start: the AdaLN conditions of every block and of the head (once per generation). */
  setup: number;
  /** Per scale: word embedding, every block's qkv / attention (scores and values over the cached keys) / proj / FFN, and the head. */
  perScale: number[];
  /** setup + Σ perScale. */
  total: number;
}

/**
 * FLOPs of the transformer over all scales of one KV-cached generation for `batch` sequences
 * (with classifier-free guidance the transformer runs 2·B sequences: pass 2·B).
 */
export function transformerFlops(c: VARConfig, batch: number): TransformerFlops {
  const C = c.embedDim;
  const H = Math.round(C * c.mlpRatio);
  const mm = (rows: number, k: number, n: number) => 2 * batch * rows * k * n;
  // AdaLN: per block SiLU(cond) @ (C → 6C) (one shared linear with sharedAln), head: (C → 2C)
  const setup = (c.sharedAln ? mm(1, C, 6 * C) : c.depth * mm(1, C, 6 * C)) + mm(1, C, 2 * C);
  const perScale: number[] = [];
  let cached = 0;
  c.patchNums.forEach((pn, si) => {
    const l = pn * pn;
    cached += l; // keys/values the queries of this scale attend to (all earlier scales and this one)
    const embed = si === 0 ? 0 : mm(l, c.Cvae, C);
    const block = mm(l, C, 3 * C) + 2 * mm(l, C, cached) + mm(l, C, C) + mm(l, C, H) + mm(l, H, C);
    perScale.push(embed + c.depth * block + mm(l, C, c.vocabSize));
  });
  return { setup, perScale, total: setup + perScale.reduce((a, b) => a + b, 0) };
}

/** FLOPs of `fhatToImg` for `batch` images: post_quant_conv and the decoder, at the config's image size. */
export function decodeFlops(c: VQVAEConfig, batch: number): number {
  const down = 2 ** (c.chMult.length - 1);
  const side = c.vPatchNums[c.vPatchNums.length - 1] * down;
  const h = side / down;
  const postQuant = 2 * h * h * c.zChannels * c.zChannels * c.quantConvKs * c.quantConvKs;
  return batch * (postQuant + convFlops(c, side, side).decoder);
}

/** FLOPs of an n×n by n×n matMul. */
export function matMulFlops(n: number): number {
  return 2 * n * n * n;
}
