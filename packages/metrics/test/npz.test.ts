import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { readNpy, readNpz, readReferenceStats, writeNpy, writeNpz, writeReferenceStats } from '../src/npz.js';
import { FeatureStats } from '../src/stats.js';
import { ShapeError, ValueError } from '../src/errors.js';

const fx = (name: string) => new URL(`../test/fixtures/${name}`, import.meta.url);
const expected = JSON.parse(readFileSync(fx('numpy-npz.json'), 'utf8'));

/** A .npy file built by hand, byte for byte as numpy 1.x/2.x write format 1.0. */
function handNpy(descr: string, shape: string, body: Uint8Array, fortran = 'False') {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`;
  header += ' '.repeat(64 - ((10 + header.length + 1) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + body.length);
  out.set([0x93, 78, 85, 77, 80, 89, 1, 0, header.length & 255, header.length >> 8]);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(body, 10 + header.length);
  return out;
}

describe('npy / npz', () => {
  it('reads a hand-built npz (stored and deflated members)', () => {
    const mu = Float64Array.of(1.5, -2, 1e-300);
    const acts = Float32Array.of(1, 2, 3, 4, 5, 6);
    const zip = zipSync({
      'mu.npy': [handNpy('<f8', '(3,)', new Uint8Array(mu.buffer)), { level: 0 }],
      'arr_0.npy': [handNpy('<f4', '(2, 3)', new Uint8Array(acts.buffer)), { level: 9 }],
    });
    const m = readNpz(zip);
    expect(m.get('mu')).toEqual({ dtype: '<f8', shape: [3], data: mu });
    expect(m.get('arr_0')).toEqual({ dtype: '<f4', shape: [2, 3], data: acts });
    expect([...readNpz(zip, ['mu']).keys()]).toEqual(['mu']);
    expect(() => readNpz(zip, ['sigma'])).toThrow(/no "sigma"/);
  });

  it('round-trips float64 and float32 exactly, and writes what numpy writes', () => {
    const a = Float64Array.from({ length: 12 }, (_, i) => Math.PI * (i - 5) * 1e-3 ** (i % 4));
    const b = Float32Array.of(0.1, -0, Infinity, 3);
    const bytes = writeNpz({ a: { data: a, shape: [3, 4] }, b: { data: b } });
    const m = readNpz(bytes);
    expect(m.get('a')).toEqual({ dtype: '<f8', shape: [3, 4], data: a });
    expect(m.get('b')!.data).toEqual(b);
    expect(m.get('b')!.shape).toEqual([4]);
    const c = readNpz(writeNpz({ a: { data: a, shape: [2, 2, 3] } }, { compress: true }));
    expect(c.get('a')!.shape).toEqual([2, 2, 3]);
    expect(c.get('a')!.data).toEqual(a);
    // header exactly as numpy writes it (format 1.0, total header a multiple of 64)
    const npy = writeNpy(a, [3, 4]);
    const headerLen = npy[8] + 256 * npy[9];
    expect((10 + headerLen) % 64).toBe(0);
    expect(new TextDecoder().decode(npy.subarray(10, 10 + headerLen)).trimEnd()).toBe(
      "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
    );
    expect(readNpy(handNpy('<f8', '()', new Uint8Array(Float64Array.of(7).buffer))).shape).toEqual([]);
    // a Node Buffer view at an odd offset (Buffer#slice is a view, not a copy)
    const big = Buffer.alloc(npy.length + 5);
    big.set(npy, 5);
    expect(readNpy(big.subarray(5)).data).toEqual(a);
  });

  it('reads archives written by numpy (savez, savez_compressed)', () => {
    const s = readNpz(readFileSync(fx('numpy-stats.npz')));
    expect(Array.from(s.get('mu')!.data)).toEqual(expected.mu);
    expect(s.get('sigma')!.shape).toEqual([4, 4]);
    expect(Array.from(s.get('sigma')!.data)).toEqual(expected.sigma.flat());
    const a = readNpz(readFileSync(fx('numpy-acts-compressed.npz')));
    expect(a.get('arr_0')!.dtype).toBe('<f4');
    expect(Array.from(a.get('arr_0')!.data)).toEqual(expected.arr_0.flat());
    // reference stats from raw activations equal numpy.cov of them (float32 values)
    const ref = readReferenceStats(readFileSync(fx('numpy-acts-compressed.npz')));
    const direct = FeatureStats.fromFeatures(Float64Array.from(expected.arr_0.flat()), 6, 4);
    expect(ref.sigma()).toEqual(direct.sigma());
    const st = readReferenceStats(readFileSync(fx('numpy-stats.npz')));
    expect(Array.from(st.mu())).toEqual(expected.mu);
    expect(Array.from(st.sigma())).toEqual(expected.sigma.flat());
  });

  it('rejects Fortran order, big-endian and integer members with clear errors', () => {
    const bad = readFileSync(fx('numpy-bad.npz'));
    expect(readNpz(bad, ['ok']).get('ok')!.data.length).toBe(4);
    expect(() => readNpz(bad, ['fortran'])).toThrow(/Fortran-order/);
    expect(() => readNpz(bad, ['bigendian'])).toThrow(/unsupported dtype "[>]f8"/);
    expect(() => readNpz(bad, ['ints'])).toThrow(/unsupported dtype "<i8"/);
    expect(() => readNpz(bad)).toThrow(ValueError);
    expect(() => readNpy(new Uint8Array(20))).toThrow(/not a .npy file/);
    expect(() => readNpz(new Uint8Array(20))).toThrow(/not a zip/);
    expect(() => readNpy(handNpy('<f8', '(3,)', new Uint8Array(16)))).toThrow(ShapeError);
    expect(() => writeNpy(new Float64Array(3), [2, 2])).toThrow(ShapeError);
  });

  it('reference statistics round-trip through .npz in float64', () => {
    const x = Float64Array.from({ length: 50 * 6 }, (_, i) => Math.sin(i * 1.7) * 3 + (i % 6));
    const s = FeatureStats.fromFeatures(x, 50, 6);
    const back = readReferenceStats(writeReferenceStats(s));
    expect(back.mu()).toEqual(s.mu());
    expect(back.sigma()).toEqual(s.sigma());
    expect(() => readReferenceStats(writeNpz({ other: { data: new Float64Array(2) } }))).toThrow(/mu and sigma, or arr_0/);
  });
});
