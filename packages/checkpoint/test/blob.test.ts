/** Blob / File sources: read piecewise (never whole), the same tensors as bytes, errors that name the file. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CheckpointError } from '@var/core';
import { fixtureDir } from '@var/test-helpers';
import { loadStateDict, type ByteProgress, type StateDict } from '../src/index.js';

const dir = fixtureDir();

/** A File that records the size of every slice read from it. */
function trackedFile(bytes: Uint8Array<ArrayBuffer>, name: string): { file: File; slices: number[] } {
  const file = new File([bytes], name);
  const slices: number[] = [];
  const slice = file.slice.bind(file);
  Object.defineProperty(file, 'slice', {
    value: (start?: number, end?: number) => {
      const b = slice(start, end);
      slices.push(b.size);
      return b;
    },
  });
  Object.defineProperty(file, 'arrayBuffer', {
    value: () => Promise.reject(new Error('the whole file must not be read at once')),
  });
  return { file, slices };
}

function same(a: StateDict, b: StateDict): void {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect(t.shape, k).toEqual(u.shape);
    expect(t.dtype, k).toBe(u.dtype);
    expect(
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(
        Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength),
      ),
      k,
    ).toBe(true);
  }
}

describe('loadStateDict from a Blob / File', () => {
  for (const name of ['var.pth', 'var.safetensors']) {
    test(`${name}: the same tensors as its bytes, read in slices (none the whole file), progress to the file size`, async () => {
      const bytes = new Uint8Array(readFileSync(join(dir, name)));
      const { file, slices } = trackedFile(bytes, name);
      const seen: ByteProgress[] = [];
      const sd = await loadStateDict(file, { onProgress: (p) => seen.push({ ...p }) });
      same(sd, await loadStateDict(bytes));
      expect(slices.length).toBeGreaterThan(2);
      expect(Math.max(...slices)).toBeLessThan(bytes.length);
      expect(seen[0]).toEqual({ loaded: 0, total: bytes.length });
      expect(seen.every((p, i) => p.total === bytes.length && (i === 0 || p.loaded >= seen[i - 1].loaded))).toBe(true);
      expect(seen.at(-1)!.loaded).toBeLessThanOrEqual(bytes.length);
    });
  }

  test('a truncated File is a CheckpointError naming the file', async () => {
    const bytes = readFileSync(join(dir, 'var.pth'));
    const cut = new File([bytes.subarray(0, bytes.length >> 1)], 'var_cut.pth');
    await expect(loadStateDict(cut)).rejects.toThrow(CheckpointError);
    await expect(loadStateDict(cut)).rejects.toThrow(/^var_cut\.pth: .*truncated/);
    const st = readFileSync(join(dir, 'var.safetensors'));
    await expect(loadStateDict(new File([st.subarray(0, st.length - 100)], 'var_cut.safetensors'))).rejects.toThrow(/var_cut\.safetensors/);
  });

  test('a File that cannot be read any more (changed on disk) is a CheckpointError saying to choose it again', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'var.safetensors')));
    const file = new File([bytes], 'gone.safetensors');
    let reads = 0;
    const slice = file.slice.bind(file);
    Object.defineProperty(file, 'slice', {
      value: (start?: number, end?: number) => {
        if (++reads > 2)
          return { arrayBuffer: () => Promise.reject(new DOMException('The requested file could not be read', 'NotReadableError')) };
        return slice(start, end);
      },
    });
    const err = await loadStateDict(file).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect(String((err as Error).message)).toMatch(
      /cannot read gone\.safetensors \(The requested file could not be read\).*choose it again/i,
    );
  });

  test('a Blob without a name is labelled "blob"', async () => {
    await expect(loadStateDict(new Blob([new Uint8Array(40).fill(7)]))).rejects.toThrow(/^blob: /);
  });
});
