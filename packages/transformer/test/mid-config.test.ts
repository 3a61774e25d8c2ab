import { describe, expect, it } from 'vitest';
import { countParameters, midBenchConfigs, validateConfig } from '../src/index.js';

describe('midBenchConfigs', () => {
  it('is a valid VAR config whose VQVAE shares its codebook, channels and scales', () => {
    const c = midBenchConfigs();
    expect(() => validateConfig(c.var)).not.toThrow();
    expect([c.var.depth, c.var.embedDim, c.var.numHeads, c.var.numClasses]).toEqual([6, 384, 6, 1000]);
    expect(c.vae).toEqual({ vocabSize: c.var.vocabSize, zChannels: c.var.Cvae, ch: 64, vPatchNums: c.var.patchNums });
    expect(countParameters(c.var)).toBeGreaterThan(10_000_000);
  });
  it('applies overrides and returns fresh objects', () => {
    const a = midBenchConfigs({ numClasses: 10, depth: 4 });
    expect([a.var.numClasses, a.var.depth, a.var.embedDim]).toEqual([10, 4, 384]);
    a.var.patchNums.push(16);
    expect(midBenchConfigs().var.patchNums).toEqual([1, 2, 3, 4, 6, 8]);
    expect(a.vae.vPatchNums).toEqual([1, 2, 3, 4, 6, 8]);
  });
});
