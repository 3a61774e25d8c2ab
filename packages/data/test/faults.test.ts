/**
 * Write faults for images: a full disk (ENOSPC, simulated by wrapping node:fs/promises: the bytes
 * that fit are written, then the write fails). writePng / writeFileAtomic reject with DataIOError
 * naming the path and ENOSPC, an existing file is unchanged and no temporary file is left.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DataIOError, readImage, writePng, type RawImage } from '../src/index.js';

const fault = vi.hoisted(() => ({ budget: Infinity, failures: 0 }));
vi.mock('node:fs/promises', async (orig) => (await import('@var/test-helpers')).withDiskFault(await orig(), fault));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'var-data-faults-'));
});
afterEach(() => {
  fault.budget = Infinity;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const image = (v: number): RawImage => ({
  width: 16,
  height: 16,
  channels: 3,
  data: new Uint8Array(16 * 16 * 3).map((_, i) => (i * v) % 256),
});

describe('disk full (ENOSPC)', () => {
  it('writePng: DataIOError naming the path and ENOSPC; the previous image is intact, no temporary file left', async () => {
    const path = join(dir, 'a.png');
    await writePng(path, image(3));
    const before = await readFile(path);
    fault.budget = 50;
    const err = await writePng(path, image(7)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataIOError);
    expect((err as DataIOError).code).toBe('E_DATA_IO');
    expect((err as Error).message).toMatch(/cannot write .*a\.png: ENOSPC/);
    expect(fault.failures).toBe(1);
    fault.budget = Infinity;
    expect((await readFile(path)).equals(before)).toBe(true);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await readImage(path)).data).toEqual(image(3).data);
  });
});
