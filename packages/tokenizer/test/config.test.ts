/** Config, phi selection and the state-dict table (no tensors allocated). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@var/core';
import { loadFixtureCase, sharedFixturesDir } from '@var/test-helpers';
import {
  VQVAE_PRESETS,
  countParameters,
  fromOfficialConfig,
  linspace,
  paramShapes,
  phiLayout,
  resolveVQVAEConfig,
  stateDictEntries,
} from '../src/index.js';

const shapesDir = join(sharedFixturesDir(), 'official-shapes');
const official = JSON.parse(readFileSync(join(shapesDir, 'vae_ch160v4096z32.json'), 'utf8'));
const ticksRef = JSON.parse(readFileSync(join(shapesDir, 'phi_ticks.json'), 'utf8'));

describe('preset vae_ch160v4096z32', () => {
  const c = resolveVQVAEConfig(VQVAE_PRESETS.vae_ch160v4096z32);
  it('matches the official constructor arguments', () => {
    expect(fromOfficialConfig(official.VQVAE_args)).toEqual(c);
  });
  it('has exactly the keys, order and shapes of the released checkpoint', () => {
    const entries = stateDictEntries(c);
    const ref = Object.entries(official.state_dict as Record<string, { shape: number[] }>);
    expect(entries.map((e) => e.name)).toEqual(ref.map(([k]) => k));
    expect(entries.map((e) => e.shape)).toEqual(ref.map(([, v]) => v.shape));
    expect(entries.length).toBe(official.num_state_dict_tensors);
  });
  it('counts 108,948,355 parameters (buffers excluded) and the buffer separately', () => {
    expect(countParameters(c)).toBe(official.total_parameters);
    expect(countParameters(c)).toBe(108_948_355);
    const buffers = stateDictEntries(c).filter((e) => e.kind === 'buffer');
    expect(buffers.map((b) => b.name)).toEqual(official.buffers);
    expect(buffers.reduce((n, b) => n + b.shape[0] * b.shape[1], 0)).toBe(official.total_buffer_elements);
    expect(paramShapes(c).size).toBe(official.num_state_dict_tensors - buffers.length);
  });
  it('selects the official phi per scale', () => {
    const phi = phiLayout(c);
    expect(phi.kind).toBe('partially-shared');
    expect(phi.indexPerScale).toEqual(official.phi.phi_index_per_scale);
    expect(phi.ticks).toEqual(official.phi.ticks);
  });
});

describe('phi selection', () => {
  it('reproduces numpy linspace ticks and the argmin table for every K and SN', () => {
    const pps = ticksRef.partially_shared as Record<string, number[]>;
    let checked = 0;
    for (const [key, want] of Object.entries(pps)) {
      const m = /^K=(\d+),(SN=(\d+)|ticks)$/.exec(key);
      if (!m) continue;
      const K = Number(m[1]);
      if (m[2] === 'ticks') {
        expect(K === 4 ? linspace(1 / 3 / K, 1 - 1 / 3 / K, K) : linspace(1 / 2 / K, 1 - 1 / 2 / K, K)).toEqual(want);
        continue;
      }
      const SN = Number(m[3]);
      const layout = phiLayout({
        quantResi: 0.5,
        shareQuantResi: K,
        defaultQresiCounts: 0,
        vPatchNums: Array.from({ length: SN }, (_, i) => i + 1),
      });
      expect(layout.indexPerScale, key).toEqual(want);
      checked++;
    }
    for (const [key, want] of Object.entries(ticksRef.non_shared as Record<string, number[]>)) {
      const SN = Number(key.slice(3));
      const layout = phiLayout({
        quantResi: -0.5,
        shareQuantResi: 0,
        defaultQresiCounts: 0,
        vPatchNums: Array.from({ length: SN }, (_, i) => i + 1),
      });
      expect(layout.kind).toBe('non-shared');
      expect(layout.indexPerScale, key).toEqual(want);
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });
  it('K = 1 partially shared and the fully shared phi', () => {
    expect(phiLayout({ quantResi: 0.5, shareQuantResi: 1, defaultQresiCounts: 0, vPatchNums: [1, 2, 3] })).toMatchObject({
      kind: 'shared',
      count: 1,
      indexPerScale: [0, 0, 0],
    });
    const nz = phiLayout({ quantResi: 0, shareQuantResi: 4, defaultQresiCounts: 0, vPatchNums: [1, 2, 3] });
    expect(nz.identity).toBe(true);
    const c = resolveVQVAEConfig({ ch: 32, quantResi: 0, vPatchNums: [1, 2] });
    expect(stateDictEntries(c).some((e) => e.name.includes('quant_resi'))).toBe(false);
  });
});

describe('fixture case', () => {
  const fc = loadFixtureCase();
  const c = fromOfficialConfig(fc.config.VQVAE);
  it('phi layout equals config.json derived.phi', () => {
    const phi = phiLayout(c);
    const d = fc.config.derived.phi;
    expect(phi.indexPerScale).toEqual(d.phi_index_per_scale);
    expect(phi.count).toBe(d.num_phi);
    const cls = { shared: 'PhiShared', 'partially-shared': 'PhiPartiallyShared', 'non-shared': 'PhiNonShared' }[phi.kind];
    expect(cls).toBe(d.class);
    if (d.ticks) expect(phi.ticks).toEqual(d.ticks);
  });
  it('state-dict table equals the keys and shapes of vae.safetensors', () => {
    const sd = fc.tensors('vae.safetensors');
    const entries = stateDictEntries(c);
    expect(entries.map((e) => e.name)).toEqual([...sd.keys()].filter((k) => entries.some((e) => e.name === k)));
    expect(new Set(entries.map((e) => e.name))).toEqual(new Set(sd.keys()));
    for (const e of entries) expect(sd.get(e.name)!.shape, e.name).toEqual(e.shape);
    expect(countParameters(c)).toBe(fc.config.derived.num_params_vae);
  });
});

describe('config validation', () => {
  it('rejects bad configs with ConfigError', () => {
    expect(() => resolveVQVAEConfig({ ch: 48 })).toThrow(ConfigError);
    expect(() => resolveVQVAEConfig({ vPatchNums: [] })).toThrow(/at least one/);
    expect(resolveVQVAEConfig({ vPatchNums: [4] }).vPatchNums).toEqual([4]); // single-scale VQ
    expect(() => resolveVQVAEConfig({ quantConvKs: 2 })).toThrow(ConfigError);
    expect(() => resolveVQVAEConfig({ vocabSize: 0 })).toThrow(/vocabSize/);
    expect(() => resolveVQVAEConfig({ shareQuantResi: -1 })).toThrow(/shareQuantResi/);
    expect(() => resolveVQVAEConfig({ bogus: 1 } as never)).toThrow(/unknown field "bogus"/);
    expect(() => fromOfficialConfig({ vocab_size: 16, nope: 1 })).toThrow(/unknown VQVAE argument "nope"/);
  });
});
