/**
 * Raster-order autoregression, the baseline VAR is compared with in the paper: a single-scale
 * VQ tokenizer (vPatchNums [g]) and a transformer whose "scales" are single tokens
 * (patchNums = g² ones, see `rasterPatchNums` in @var/transformer). The block-causal mask
 * over one-token blocks is a causal mask, the level embedding a learned position embedding,
 * and the input of position t+1 is the codebook vector of token t (projected by the same
 * word embedding). Generation then runs g² KV-cached steps of one token each instead of one
 * step per scale, with the same guidance and top-k/top-p sampler.
 */
import type { SamplerQuantizer, SamplerVAR } from './types.js';

/** patchNums of a raster-order transformer over a g×g token grid: g² ones. */
export function rasterPatchNums(grid: number): number[] {
  return new Array<number>(grid * grid).fill(1);
}

/** True when the transformer is a raster-order model of this single-scale tokenizer. */
export function isRasterPair(q: Pick<SamplerQuantizer, 'vPatchNums'>, model: SamplerVAR): boolean {
  const pq = q.vPatchNums;
  const pv = model.config.patchNums;
  return pq.length === 1 && pq[0] > 1 && pv.length === pq[0] * pq[0] && pv.every((p) => p === 1);
}
