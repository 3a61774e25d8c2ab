import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CheckpointError } from '@var/core';
import { fixtureDir } from '@var/test-helpers';
import { loadStateDict, readStreamBytes, type ByteProgress } from '../src/index.js';
import { readFileSync } from 'node:fs';

const dir = fixtureDir();

/** A fetch-like Response whose body arrives in `chunk`-byte pieces. */
function streamingResponse(bytes: Uint8Array, chunk: number, announce: number | null) {
  let off = 0;
  return {
    ok: true,
    url: 'http://example.test/var.pth',
    headers: { get: (n: string) => (n.toLowerCase() === 'content-length' && announce !== null ? String(announce) : null) },
    body: {
      getReader: () => ({
        async read() {
          if (off >= bytes.length) return { done: true };
          const value = bytes.slice(off, off + chunk);
          off += chunk;
          return { done: false, value };
        },
      }),
    },
    arrayBuffer: async () => {
      throw new Error('arrayBuffer must not be used when a body stream is there');
    },
  };
}

describe('loadStateDict byte progress', () => {
  for (const file of ['var.pth', 'var.safetensors']) {
    test(`${file} from a path: monotone, ends at the file size, same tensors`, async () => {
      const path = join(dir, file);
      const size = statSync(path).size;
      const seen: ByteProgress[] = [];
      const sd = await loadStateDict(path, { onProgress: (p) => seen.push({ ...p }) });
      const plain = await loadStateDict(path);
      expect(Object.keys(sd)).toEqual(Object.keys(plain));
      expect(seen.length).toBeGreaterThan(2);
      expect(seen[0]).toEqual({ loaded: 0, total: size });
      expect(seen.every((p, i) => p.total === size && (i === 0 || p.loaded >= seen[i - 1].loaded))).toBe(true);
      // every tensor byte is read: at least the payload, at most the file
      const payload = Object.values(sd).reduce((n, t) => n + t.data.byteLength, 0);
      expect(seen[seen.length - 1].loaded).toBeGreaterThanOrEqual(payload);
      expect(seen[seen.length - 1].loaded).toBeLessThanOrEqual(size);
    });
  }

  test('a streamed Response reports the download and gives the same tensors', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'var.pth')));
    for (const announce of [bytes.length, null]) {
      const seen: ByteProgress[] = [];
      const sd = await loadStateDict(streamingResponse(bytes, 4096, announce), { onProgress: (p) => seen.push({ ...p }) });
      const plain = await loadStateDict(bytes);
      expect(Object.keys(sd)).toEqual(Object.keys(plain));
      const last = seen[seen.length - 1];
      expect(last.loaded).toBe(bytes.length);
      expect(seen.length).toBeGreaterThan(Math.floor(bytes.length / 4096));
      if (announce !== null) expect(seen.every((p) => p.total === bytes.length)).toBe(true);
    }
  });

  test('a Response that ends early is a CheckpointError naming the bytes received', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'var.pth')));
    const res = streamingResponse(bytes.subarray(0, 1000), 256, bytes.length);
    await expect(loadStateDict(res, { onProgress: () => undefined })).rejects.toThrow(CheckpointError);
    await expect(
      loadStateDict(streamingResponse(bytes.subarray(0, 1000), 256, bytes.length), { onProgress: () => undefined }),
    ).rejects.toThrow(/after 1000 of \d+ bytes/);
  });
});

describe('readStreamBytes', () => {
  const bytes = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) % 251);
  for (const [announce, label] of [
    [3000, 'the announced size'],
    [1000, 'fewer bytes announced than arrive (the buffer grows)'],
    [0, 'no size'],
  ] as const) {
    test(`${label}: every byte in order, progress after every chunk`, async () => {
      const seen: number[] = [];
      const got = await readStreamBytes(streamingResponse(bytes, 700, null).body, announce, (n) => seen.push(n));
      expect(Array.from(got)).toEqual(Array.from(bytes));
      expect(seen).toEqual([700, 1400, 2100, 2800, 3000]);
    });
  }
  test('a stream that ends early gives the bytes that came (the caller compares with the size)', async () => {
    const got = await readStreamBytes(streamingResponse(bytes.subarray(0, 500), 256, null).body, 3000);
    expect(got.length).toBe(500);
    expect(Array.from(got)).toEqual(Array.from(bytes.subarray(0, 500)));
  });
});
