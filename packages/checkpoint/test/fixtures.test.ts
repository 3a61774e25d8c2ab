/**
 * The fixture case's .pth files must read bit-identically to their .safetensors twins.
 * The expectation is taken from the raw bytes of the twin, parsed here independently
 * of the package (header JSON + data offsets).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { loadFixtureCase } from '@var/test-helpers';
import { loadStateDict, parseSafetensors, readPth, readSafetensors, type RawTensor, type StateDict } from '../src/index.js';

interface RawEntry {
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

function rawSafetensors(path: string): Map<string, RawEntry> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const out = new Map<string, RawEntry>();
  for (const [k, v] of Object.entries<any>(header)) {
    if (k === '__metadata__') continue;
    out.set(k, { dtype: v.dtype, shape: v.shape, bytes: buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]) });
  }
  return out;
}

function expectBitIdentical(name: string, got: StateDict, want: Map<string, RawEntry>): void {
  expect(new Set(got.keys()), `${name}: key set`).toEqual(new Set(want.keys()));
  const bad: string[] = [];
  for (const [k, w] of want) {
    const t = got.get(k) as RawTensor;
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (t.dtype !== w.dtype || JSON.stringify(t.shape) !== JSON.stringify(w.shape) || !bytes.equals(w.bytes)) {
      bad.push(
        `${k}: got ${t.dtype}${JSON.stringify(t.shape)} (${bytes.length} B), want ${w.dtype}${JSON.stringify(w.shape)} (${w.bytes.length} B)`,
      );
    }
  }
  expect(bad, `${name}: tensors differing from the safetensors twin`).toEqual([]);
}

const fc = loadFixtureCase();

describe('fixture case checkpoints', () => {
  for (const stem of ['vae', 'var']) {
    test(`${stem}.pth reads bit-identical to ${stem}.safetensors (every key)`, async () => {
      const want = rawSafetensors(fc.path(`${stem}.safetensors`));
      expect(want.size).toBeGreaterThan(0);
      const t0 = performance.now();
      const fromPath = await readPth(fc.path(`${stem}.pth`));
      const ms = performance.now() - t0;
      expectBitIdentical(`${stem}.pth (path)`, fromPath, want);
      const bytes = new Uint8Array(readFileSync(fc.path(`${stem}.pth`)));
      expectBitIdentical(`${stem}.pth (bytes)`, await readPth(bytes), want);
      expectBitIdentical(`${stem}.pth (bytes, copy)`, await readPth(bytes.buffer, { copy: true }), want);
      expectBitIdentical(`${stem}.pth (loadStateDict)`, await loadStateDict(fc.path(`${stem}.pth`)), want);
      console.log(`${stem}.pth: ${fromPath.size} tensors read from the path in ${ms.toFixed(1)} ms`);
    });

    test(`${stem}.safetensors reads identically from a path, bytes and a Response`, async () => {
      const want = rawSafetensors(fc.path(`${stem}.safetensors`));
      const bytes = new Uint8Array(readFileSync(fc.path(`${stem}.safetensors`)));
      expectBitIdentical('path', (await readSafetensors(fc.path(`${stem}.safetensors`))).tensors, want);
      expectBitIdentical('parse', parseSafetensors(bytes).tensors, want);
      expectBitIdentical('response', (await readSafetensors(new Response(bytes as Uint8Array<ArrayBuffer>))).tensors, want);
      expectBitIdentical('loadStateDict', await loadStateDict(fc.path(`${stem}.safetensors`)), want);
    });
  }

  test('the state dicts agree with the case config (VAR depth and width, VQVAE vocabulary)', async () => {
    const vae = await readPth(fc.path('vae.pth'));
    const v = await readPth(fc.path('var.pth'));
    const { VAR, VQVAE, derived } = fc.config;
    const blocks = new Set([...v.keys()].filter((k) => k.startsWith('blocks.')).map((k) => k.split('.')[1]));
    expect(blocks.size).toBe(VAR.depth);
    expect(v.get('pos_start')!.shape).toEqual([1, derived.first_l, VAR.embed_dim]);
    expect(v.get('lvl_1L')!.shape).toEqual([1, derived.L]);
    expect(vae.get('quantize.embedding.weight')!.shape).toEqual([VQVAE.vocab_size, VQVAE.z_channels]);
  });
});
