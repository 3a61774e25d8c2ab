/**
 * The "mid" benchmark model: between the fixture's tiny case and the paper's d16, big enough that
 * activations and per-scale overheads matter, small enough to run on one wasm thread. The CLI's
 * `var bench --generate`, @var/sampling's generation bench and memory tests, and the soak tests
 * all build it from here.
 */
import type { VARConfig } from './config.js';

/** The VQVAE paired with the mid VAR (a `Partial<VQVAEConfig>` of @var/tokenizer; the rest default). */
export interface MidVQVAEConfig {
  vocabSize: number;
  zChannels: number;
  ch: number;
  vPatchNums: number[];
}

/**
 * Configs of the "mid" benchmark model: VQVAE ch 64, V 512, z 16, patch_nums 1,2,3,4,6,8 (128 px);
 * VAR depth 6, width 384, 6 heads, 1000 classes. `overrides` replace VAR fields (e.g.
 * `{ numClasses: 10 }`); the VQVAE's codebook and scales follow the VAR's `vocabSize`, `Cvae`
 * and `patchNums`. Fresh objects on every call.
 */
export function midBenchConfigs(overrides: Partial<VARConfig> = {}): { vae: MidVQVAEConfig; var: VARConfig } {
  const v: VARConfig = {
    numClasses: 1000,
    depth: 6,
    embedDim: 384,
    numHeads: 6,
    mlpRatio: 4,
    normEps: 1e-6,
    sharedAln: false,
    condDropRate: 0.1,
    attnL2Norm: true,
    patchNums: [1, 2, 3, 4, 6, 8],
    vocabSize: 512,
    Cvae: 16,
    ...overrides,
  };
  return { vae: { vocabSize: v.vocabSize, zChannels: v.Cvae, ch: 64, vPatchNums: [...v.patchNums] }, var: v };
}
