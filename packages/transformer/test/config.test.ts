import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFixtureCase, sharedFixturesDir } from '@var/test-helpers';
import { countParameters, deriveConfig, fromOfficialConfig, paramShapes, varPreset, type VARPresetName } from '../src/index.js';
import { fixtureConfig } from './helpers.js';

const shapesDir = join(sharedFixturesDir(), 'official-shapes');
const index = JSON.parse(readFileSync(join(shapesDir, 'index.json'), 'utf8'));

describe('presets match the released checkpoints', () => {
  for (const name of ['d16', 'd20', 'd24', 'd30', 'd36'] as VARPresetName[]) {
    it(`${name}: keys, order, shapes, dtypes and parameter total`, () => {
      const off = JSON.parse(readFileSync(join(shapesDir, `var_${name}.json`), 'utf8'));
      const cfg = varPreset(name);
      // the preset is the official constructor's configuration
      const a = Array.isArray(off.VAR_args) ? Object.fromEntries(off.VAR_args) : off.VAR_args;
      expect(cfg.depth).toBe(a.depth);
      expect(cfg.embedDim).toBe(a.embed_dim);
      expect(cfg.numHeads).toBe(a.num_heads);
      expect(cfg.sharedAln).toBe(a.shared_aln);
      expect(cfg.patchNums).toEqual(a.patch_nums);
      expect(cfg.dropPathRate).toBeCloseTo(a.drop_path_rate, 12);
      const specs = paramShapes(cfg);
      expect(specs.map((s) => s.name)).toEqual(Object.keys(off.state_dict));
      for (const s of specs) {
        expect(s.shape, s.name).toEqual(off.state_dict[s.name].shape);
        expect(s.dtype, s.name).toBe(off.state_dict[s.name].dtype);
      }
      expect(countParameters(cfg)).toBe(off.total_parameters);
      expect(countParameters(cfg)).toBe(index.files[`var_${name}.json`].total_parameters);
      expect(deriveConfig(cfg).L).toBe(off.L);
    });
  }
  it('d16 has 310,283,520 parameters', () => {
    expect(countParameters(varPreset('d16'))).toBe(310_283_520);
  });
});

describe('fixture config', () => {
  const fc = loadFixtureCase();
  it('derived values equal config.json derived', () => {
    const cfg = fixtureConfig(fc);
    const d = deriveConfig(cfg);
    const ref = fc.config.derived;
    expect(d.L).toBe(ref.L);
    expect(d.firstL).toBe(ref.first_l);
    expect(d.beginEnds).toEqual(ref.begin_ends);
    expect(d.headDim).toBe(ref.head_dim);
    expect(d.mlpHidden).toBe(ref.mlp_hidden);
    expect(d.attnScale).toBeCloseTo(ref.attn_scale, 7);
    // null where the official SelfAttention has no max_scale_mul (attention without L2 norm)
    expect(d.attnMaxScaleMul).toBe(ref.attn_max_scale_mul ?? null);
    expect(d.attnMaxScaleMul === null).toBe(!fc.config.VAR.attn_l2_norm);
    expect(countParameters(cfg)).toBe(ref.num_params_var);
  });
  it('paramShapes equals the fixture state dict', () => {
    const sd = fc.tensors('var.safetensors');
    const specs = paramShapes(fixtureConfig(fc));
    expect(specs.map((s) => s.name).sort()).toEqual([...sd.keys()].sort());
    for (const s of specs) expect(s.shape, s.name).toEqual(sd.get(s.name)!.shape);
  });
  it('rejects bad configs with ConfigError', () => {
    // an embed_dim the case's head count does not divide (with one head every width divides, so use two)
    const heads = Math.max(2, fc.config.VAR.num_heads as number);
    const indivisible = { ...fc.config.VAR, num_heads: heads, embed_dim: heads * 8 + 1 };
    expect(() => fromOfficialConfig(indivisible, { vocab_size: 8, Cvae: 4 })).toThrow(
      expect.objectContaining({ name: 'ConfigError', message: expect.stringMatching(/must be divisible by numHeads/) }),
    );
    expect(() => fromOfficialConfig({ ...fc.config.VAR, patch_nums: [] }, { vocab_size: 8, Cvae: 4 })).toThrow(/patchNums/);
    expect(() => fromOfficialConfig(fc.config.VAR, {})).toThrow(/vocabSize/);
    expect(() => varPreset('d17' as VARPresetName)).toThrow(/unknown VAR preset/);
  });
});
