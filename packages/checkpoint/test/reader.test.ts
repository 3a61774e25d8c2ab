/**
 * openStateDict (reader.ts): tensor-by-tensor reading gives exactly what loadStateDict gives, for
 * .pth and safetensors, from a path, bytes and a Blob, with and without a scratch buffer; the
 * scratch is reused (no memory per tensor); views into shared storages and strided tensors take
 * the general path; a corrupt storage is caught by its CRC when read; progress counts the bytes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CheckpointError } from '@var/core';
import { loadFixtureCase } from '@var/test-helpers';
import { loadStateDict, openStateDict, readTensors, ScratchBuffer, type StateDict } from '../src/index.js';
import { makePth, picklePy, tensor } from './builders.js';

const fc = loadFixtureCase();
const f32 = (...v: number[]) => new Uint8Array(new Float32Array(v).buffer);

async function readAll(src: Parameters<typeof openStateDict>[0], scratch?: ScratchBuffer): Promise<StateDict> {
  const ck = await openStateDict(src);
  const out: StateDict = new Map();
  try {
    for (const [k, e] of ck.entries) {
      const t = await e.read(scratch);
      expect(t.data.byteLength).toBe(e.byteLength);
      expect(t.shape).toEqual(e.shape);
      out.set(k, { ...t, data: t.data.slice() }); // a scratch view is valid until the next read
    }
  } finally {
    await ck.close();
  }
  return out;
}

function expectSame(a: StateDict, b: StateDict): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect(u.dtype, k).toBe(t.dtype);
    expect(u.shape, k).toEqual(t.shape);
    const bytes = (d: ArrayBufferView) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    expect(bytes(u.data).equals(bytes(t.data)), `${k}: the same bytes`).toBe(true);
  }
}

describe('openStateDict', () => {
  for (const file of ['var.pth', 'var.safetensors', 'vae.pth', 'vae.safetensors']) {
    test(`${file}: same tensors as loadStateDict from a path, bytes and a Blob, with and without scratch`, async () => {
      const want = await loadStateDict(fc.path(file));
      const bytes = new Uint8Array(readFileSync(fc.path(file)));
      const scratch = new ScratchBuffer();
      expectSame(want, await readAll(fc.path(file), scratch));
      expectSame(want, await readAll(bytes));
      expectSame(want, await readAll(new Blob([bytes]), scratch));
      // the scratch grew to the largest tensor once and was reused
      const largest = Math.max(...[...want.values()].map((t) => t.data.byteLength));
      expect(scratch.byteLength).toBeGreaterThanOrEqual(largest);
      expect(scratch.byteLength).toBeLessThan(1.3 * largest);
    });
  }

  test('a view into a shared storage and a strided tensor take the general path and are right', async () => {
    const view = tensor({ storageType: 'FloatStorage', key: '0', numel: 6, offset: 2, size: [2, 2] });
    const strided = tensor({ storageType: 'FloatStorage', key: '0', numel: 6, size: [3, 2], stride: [1, 3] });
    const pth = makePth({
      pickle: picklePy(
        new Map([
          ['v', view],
          ['s', strided],
        ]),
      ),
      storages: { '0': f32(0, 1, 2, 3, 4, 5) },
    });
    const sd = await readAll(pth, new ScratchBuffer());
    expect(Array.from(sd.get('v')!.data as Float32Array)).toEqual([2, 3, 4, 5]);
    expect(Array.from(sd.get('s')!.data as Float32Array)).toEqual([0, 3, 1, 4, 2, 5]);
    expectSame(await loadStateDict(pth), sd);
  });

  test('a corrupt storage is a CheckpointError when that tensor is read (not before), unless verifyCrc is false', async () => {
    const pth = makePth({
      pickle: picklePy(
        new Map([
          ['a', tensor({ storageType: 'FloatStorage', key: '0', numel: 2, size: [2] })],
          ['b', tensor({ storageType: 'FloatStorage', key: '1', numel: 2, size: [2] })],
        ]),
      ),
      storages: { '0': f32(1, 2), '1': f32(3, 4) },
    });
    const needle = f32(3, 4);
    const bad = pth.slice();
    for (let i = 0; i + 8 <= bad.length; i++) if (needle.every((b, j) => bad[i + j] === b)) bad[i] ^= 1;
    const ck = await openStateDict(bad);
    expect(Array.from((await ck.entries.get('a')!.read()).data as Float32Array)).toEqual([1, 2]);
    await expect(ck.entries.get('b')!.read(new ScratchBuffer())).rejects.toThrow(CheckpointError);
    await expect(ck.entries.get('b')!.read()).rejects.toThrow(/data\/1" is corrupt/);
    const lax = await openStateDict(bad, { verifyCrc: false });
    expect((await lax.entries.get('b')!.read()).data).toHaveLength(2);
  });

  test('readTensors yields the named tensors in order, read ahead by one, each right while it is current', async () => {
    const want = await loadStateDict(fc.path('vae.pth'));
    const names = [...want.keys()].reverse();
    const ck = await openStateDict(fc.path('vae.pth'));
    const seen: string[] = [];
    try {
      for await (const [name, t] of readTensors(ck, ['no such tensor', ...names])) {
        seen.push(name);
        const w = want.get(name)!;
        const bytes = (d: ArrayBufferView) => Buffer.from(d.buffer, d.byteOffset, d.byteLength);
        expect(bytes(t.data).equals(bytes(w.data)), name).toBe(true);
      }
      expect(seen).toEqual(names);
      // leaving early is fine (the read ahead is dropped)
      for await (const _ of readTensors(ck, names)) break;
    } finally {
      await ck.close();
    }
  });

  test('progress counts the bytes read; a file that is not a checkpoint is a CheckpointError', async () => {
    const path = fc.path('var.pth');
    const seen: number[] = [];
    const ck = await openStateDict(path, { onProgress: (p) => seen.push(p.loaded) });
    const scratch = new ScratchBuffer();
    let bytes = 0;
    for (const e of ck.entries.values()) bytes += (await e.read(scratch)).data.byteLength;
    await ck.close();
    expect(seen.at(-1)!).toBeGreaterThanOrEqual(bytes);
    expect(seen.every((v, i) => i === 0 || v >= seen[i - 1])).toBe(true);
    const junk = join(tmpdir(), `var-reader-junk-${process.pid}.bin`);
    writeFileSync(junk, 'not a checkpoint at all');
    await expect(openStateDict(junk)).rejects.toThrow(/unrecognised checkpoint format/);
  });
});
