import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CheckpointError, ValueError } from '@var/core';
import { loadFixtureCase, sharedFixturesDir } from '@var/test-helpers';
import {
  StateDictMismatchError,
  assertStateDictMatches,
  bf16BitsToFloat,
  compareStateDict,
  f16BitsToFloat,
  floatToBf16Bits,
  floatToF16Bits,
  formatStateDictReport,
  fromFloat32,
  pthToSafetensors,
  readPth,
  readSafetensors,
  toFloat32Array,
  toInt32Array,
  type StateDict,
} from '../src/index.js';
import { makePth, picklePy, tensor, bytesOf } from './builders.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'var-ckpt-cv-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('dtype conversion', () => {
  test('every half-precision bit pattern decodes and re-encodes to itself', () => {
    for (let h = 0; h < 65536; h++) {
      const v = f16BitsToFloat(h);
      if (Number.isNaN(v)) {
        expect((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0).toBe(true);
        expect(Number.isNaN(f16BitsToFloat(floatToF16Bits(v)))).toBe(true);
        continue;
      }
      if (floatToF16Bits(v) !== h) throw new Error(`f16 0x${h.toString(16)} -> ${v} -> 0x${floatToF16Bits(v).toString(16)}`);
    }
  });

  test('float -> half rounds to nearest even, overflows to Infinity and keeps subnormals', () => {
    expect(floatToF16Bits(65504)).toBe(0x7bff);
    expect(floatToF16Bits(65520)).toBe(0x7c00); // halfway to the next binade rounds up to Inf
    expect(floatToF16Bits(-1e6)).toBe(0xfc00);
    expect(floatToF16Bits(2 ** -24)).toBe(0x0001);
    expect(floatToF16Bits(2 ** -25)).toBe(0x0000); // tie to even (0)
    expect(floatToF16Bits(1.5 * 2 ** -25)).toBe(0x0001);
    expect(floatToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, even mantissa kept
    expect(floatToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, rounds up to even
    // random values: the encoding is the nearest half (checked against neighbours)
    let s = 1;
    for (let i = 0; i < 20000; i++) {
      s = (s * 16807) % 2147483647;
      const v = Math.fround(((s / 2147483647) * 2 - 1) * 2 ** ((s % 40) - 25));
      const h = floatToF16Bits(v);
      const d = Math.abs(f16BitsToFloat(h) - v);
      for (const n of [h - 1, h + 1]) {
        if ((n & 0x7c00) !== 0x7c00 && n >= 0 && n < 65536 && (n & 0x8000) === (h & 0x8000) && Math.abs(f16BitsToFloat(n) - v) < d) {
          throw new Error(`${v} encoded as 0x${h.toString(16)}, but 0x${n.toString(16)} is nearer`);
        }
      }
    }
  });

  test('bfloat16 encode / decode', () => {
    for (let b = 0; b < 65536; b += 7) {
      const v = bf16BitsToFloat(b);
      if (!Number.isNaN(v)) expect(floatToBf16Bits(v)).toBe(b);
    }
    expect(floatToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie to even
    expect(floatToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(Number.isNaN(bf16BitsToFloat(floatToBf16Bits(NaN)))).toBe(true);
  });

  test('toFloat32Array / toInt32Array / fromFloat32', () => {
    const x = new Float32Array([0.5, -2, 1e-3, 70000]);
    const f16 = fromFloat32(x, [2, 2], 'F16');
    expect(f16.dtype).toBe('F16');
    expect([...toFloat32Array(f16)]).toEqual([0.5, -2, f16BitsToFloat(floatToF16Bits(1e-3)), Infinity]);
    const bf = fromFloat32(x, [4], 'BF16');
    expect(toFloat32Array(bf)[1]).toBe(-2);
    expect(fromFloat32(x, [4]).data).toBe(x);
    expect(() => fromFloat32(x, [3])).toThrow(ValueError);
    expect([...toFloat32Array({ dtype: 'I64', shape: [2], data: new BigInt64Array([3n, -4n]) })]).toEqual([3, -4]);
    expect([...toFloat32Array({ dtype: 'F64', shape: [1], data: new Float64Array([0.1]) })]).toEqual([Math.fround(0.1)]);
    expect([...toInt32Array({ dtype: 'I64', shape: [2], data: new BigInt64Array([2147483647n, -2147483648n]) })]).toEqual([
      2147483647, -2147483648,
    ]);
    expect(() => toInt32Array({ dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2147483648n]) })).toThrow(
      /element 1 .* 2147483648, outside the int32 range/,
    );
    expect(() => toInt32Array({ dtype: 'F32', shape: [1], data: new Float32Array(1) })).toThrow(/integer tensor/);
    expect([...toInt32Array({ dtype: 'U8', shape: [2], data: new Uint8Array([255, 0]) })]).toEqual([255, 0]);
    expect(() => toFloat32Array({ dtype: 'F32', shape: [2], data: new Float32Array(3) })).toThrow(ValueError);
  });
});

describe('compareStateDict', () => {
  test('against the official shapes files (format of official-shapes/*.json)', () => {
    const file = JSON.parse(readFileSync(join(sharedFixturesDir(), 'official-shapes', 'var_d16.json'), 'utf8'));
    // a state dict with exactly the listed shapes (data is irrelevant to the comparison)
    const sd: StateDict = new Map();
    for (const [k, v] of Object.entries<{ shape: number[]; dtype: string }>(file.state_dict)) {
      sd.set(k, { dtype: v.dtype as 'F32', shape: v.shape, data: new Float32Array(0) });
    }
    const r = compareStateDict(sd, file);
    expect(r.ok).toBe(true);
    expect(r.expectedCount).toBe(file.num_state_dict_tensors);
    expect(formatStateDictReport(r)).toMatch(/matches against var_d16\.pth/);

    const keys = [...sd.keys()];
    const bad = new Map(sd);
    bad.delete(keys[0]);
    bad.set('extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    const k2 = keys[5];
    const t2 = sd.get(k2)!;
    bad.set(k2, { ...t2, shape: [...t2.shape, 2] });
    const r2 = compareStateDict(bad, file);
    expect(r2.ok).toBe(false);
    expect(r2.missing).toEqual([keys[0]]);
    expect(r2.unexpected).toEqual(['extra.weight']);
    expect(r2.mismatched).toEqual([{ key: k2, expected: t2.shape, found: [...t2.shape, 2] }]);
    const text = formatStateDictReport(r2);
    expect(text).toContain(`missing (1):\n  ${keys[0]}`);
    expect(text).toContain(`${k2}: expected [${t2.shape.join(', ')}], found [${[...t2.shape, 2].join(', ')}]`);
    expect(() => assertStateDictMatches(bad, file)).toThrow(StateDictMismatchError);
    try {
      assertStateDictMatches(bad, file);
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointError);
      expect((e as StateDictMismatchError).report.missing).toEqual([keys[0]]);
    }
    // dtype differences are reported, and fail only on request
    const half = new Map(sd);
    half.set(keys[1], { ...sd.get(keys[1])!, dtype: 'F16', data: new Uint16Array(0) });
    expect(compareStateDict(half, file).ok).toBe(true);
    expect(compareStateDict(half, file).dtypeMismatched).toEqual([{ key: keys[1], expected: 'F32', found: 'F16' }]);
    expect(compareStateDict(half, file, { dtype: true }).ok).toBe(false);
  });

  test('the fixture case VAE does not match the released VAE shapes, and the report says where', async () => {
    const fc = loadFixtureCase();
    const vae = await readPth(fc.path('vae.pth'));
    const file = JSON.parse(readFileSync(join(sharedFixturesDir(), 'official-shapes', 'vae_ch160v4096z32.json'), 'utf8'));
    const r = compareStateDict(vae, file);
    // same architecture family: every key of the released checkpoint is known; sizes differ (ch, vocab)
    const emb = r.mismatched.find((m) => m.key === 'quantize.embedding.weight');
    expect(emb).toEqual({
      key: 'quantize.embedding.weight',
      expected: [4096, 32],
      found: [fc.config.VQVAE.vocab_size, fc.config.VQVAE.z_channels],
    });
    // and a simple key -> shape table works
    const own = Object.fromEntries([...vae].map(([k, t]) => [k, t.shape]));
    expect(compareStateDict(vae, own).ok).toBe(true);
    expect(() => compareStateDict(vae, { x: 'nope' } as never)).toThrow(ValueError);
  });
});

describe('pthToSafetensors', () => {
  test('converts the fixture var.pth bit-identically, and to float16 on request', async () => {
    const fc = loadFixtureCase();
    const dst = join(dir, 'var.safetensors');
    const res = await pthToSafetensors(fc.path('var.pth'), dst);
    const twin = await readSafetensors(fc.path('var.safetensors'));
    const out = await readSafetensors(dst);
    expect(out.metadata.format).toBe('pt');
    expect(res.tensors).toBe(twin.tensors.size);
    for (const [k, t] of twin.tensors) {
      const u = out.tensors.get(k)!;
      expect(u.dtype).toBe(t.dtype);
      expect(
        Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(
          Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
        ),
        k,
      ).toBe(true);
    }

    const dst16 = join(dir, 'var16.safetensors');
    const r16 = await pthToSafetensors(fc.path('var.pth'), dst16, { float16: true });
    const out16 = await readSafetensors(dst16);
    for (const [k, t] of twin.tensors) {
      const u = out16.tensors.get(k)!;
      if (t.dtype === 'F32') {
        expect(u.dtype).toBe('F16');
        const a = toFloat32Array(u);
        const b = t.data as Float32Array;
        let bad = 0;
        for (let i = 0; i < b.length; i++) {
          if (!Number.isFinite(b[i])) bad += a[i] === b[i] ? 0 : 1;
          else bad += Math.abs(a[i] - b[i]) <= Math.abs(b[i]) * 2 ** -11 + 2 ** -25 ? 0 : 1;
        }
        expect(bad, `${k}: elements off by more than half a float16 ulp`).toBe(0);
      } else expect(u.dtype).toBe(t.dtype);
    }
    expect(r16.converted).toBe([...twin.tensors.values()].filter((t) => t.dtype === 'F32').length);
    expect(r16.overflowed).toBe(0);
  });

  test('counts float16 overflow and honours key', async () => {
    const pth = makePth({
      pickle: picklePy({ model: new Map([['w', tensor({ storageType: 'FloatStorage', key: '0', numel: 3, size: [3] })]]), step: 1 }),
      storages: { '0': bytesOf(new Float32Array([1e5, -1, Infinity])) },
    });
    const src = join(dir, 'small.pth');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(src, pth);
    const r = await pthToSafetensors(src, join(dir, 'small.safetensors'), { float16: true, key: 'model' });
    expect(r).toMatchObject({ tensors: 1, converted: 1, overflowed: 1, dtypes: { F16: 1 } });
    await expect(pthToSafetensors(src, join(dir, 'x.safetensors'), { key: 'nope' })).rejects.toThrow(CheckpointError);
  });
});
