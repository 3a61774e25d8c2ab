/**
 * Write faults: a full disk (ENOSPC, simulated by wrapping node:fs/promises: the bytes that fit
 * are written, then the write fails) and unwritable output paths. A failed write is a
 * CheckpointError naming the path and the system error; the previous file is unchanged and no
 * temporary file is left behind.
 */
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CheckpointError } from '@var/core';
import { loadFixtureCase } from '@var/test-helpers';
import { pthToSafetensors, readSafetensors, writeSafetensors, type StateDict } from '../src/index.js';

const fault = vi.hoisted(() => ({ budget: Infinity, failures: 0 }));
vi.mock('node:fs/promises', async (orig) => (await import('@var/test-helpers')).withDiskFault(await orig(), fault));

const fc = loadFixtureCase();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'var-ckpt-faults-'));
});
afterEach(() => {
  fault.budget = Infinity;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sd = (n: number, v: number): StateDict => new Map([['w', { dtype: 'F32', shape: [n], data: new Float32Array(n).fill(v) }]]);
const tmpFiles = async (d: string) => (await readdir(d)).filter((f) => f.endsWith('.tmp'));

async function caught(p: Promise<unknown>): Promise<CheckpointError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'expected a CheckpointError').toBeInstanceOf(CheckpointError);
  return err as CheckpointError;
}

describe('disk full (ENOSPC)', () => {
  for (const budget of [0, 100, 4000]) {
    it(`writeSafetensors fails after ${budget} bytes with CheckpointError; the previous file is intact, no temporary file left`, async () => {
      const path = join(dir, `full-${budget}.safetensors`);
      await writeSafetensors(path, sd(8, 1));
      const before = await readFile(path);
      fault.budget = budget;
      const failures = fault.failures;
      const err = await caught(writeSafetensors(path, sd(4096, 2)));
      expect(fault.failures).toBe(failures + 1);
      expect(err.code).toBe('E_CHECKPOINT');
      expect(err.message).toContain(path);
      expect(err.message).toMatch(/ENOSPC: no space left on device/);
      expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
      fault.budget = Infinity;
      expect((await readFile(path)).equals(before)).toBe(true);
      expect(await tmpFiles(dir)).toEqual([]);
      expect([...(await readSafetensors(path)).tensors.keys()]).toEqual(['w']);
    });
  }

  it('pthToSafetensors on a full disk: CheckpointError, no output and no temporary file', async () => {
    const out = join(dir, 'converted.safetensors');
    fault.budget = 1000;
    await caught(pthToSafetensors(fc.path('var.pth'), out));
    fault.budget = Infinity;
    expect((await readdir(dir)).filter((f) => f.includes('converted'))).toEqual([]);
  });
});

describe('unwritable output paths', () => {
  it('a missing folder, a folder in the way and a read-only folder give CheckpointError naming the path', async () => {
    const missing = join(dir, 'no', 'such', 'x.safetensors');
    expect((await caught(writeSafetensors(missing, sd(2, 1)))).message).toMatch(
      /cannot write checkpoint .*no[/\\]such[/\\]x\.safetensors.*ENOENT/,
    );
    const folder = join(dir, 'a-folder');
    await mkdir(folder);
    await writeFile(join(folder, 'keep'), 'x');
    expect((await caught(writeSafetensors(folder, sd(2, 1)))).message).toContain(folder);
    expect(await tmpFiles(dir)).toEqual([]);
    // permissions do not bind root, so the read-only case only runs as another user
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'read-only');
      await mkdir(ro);
      await chmod(ro, 0o555);
      try {
        expect((await caught(writeSafetensors(join(ro, 'x.safetensors'), sd(2, 1)))).message).toMatch(/EACCES|EPERM/);
      } finally {
        await chmod(ro, 0o755);
      }
    }
  });
});
