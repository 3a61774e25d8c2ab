/**
 * Out of disk during a training checkpoint write (ENOSPC, simulated by wrapping node:fs/promises:
 * the bytes that fit are written, then the write fails). The run stops with a CheckpointError, the
 * previous checkpoint is intact and loadable, no temporary file is left, and resuming once space is
 * back ends with the same losses and weights as a run that never failed.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CheckpointError, initBackend } from '@var/core';
import { DataIOError } from '@var/data';
import { JsonlLog, loadCheckpoint, readLog, trainTokenizer, type TrainTokenizerOptions } from '../src/index.js';
import { writeTextAtomic } from '../src/run-dir.js';
import { tinyFolder, tmpRunDir, tinyTokenizerOptions } from './helpers.js';

const fault = vi.hoisted(() => ({ budget: Infinity, failures: 0 }));
vi.mock('node:fs/promises', async (orig) => (await import('@var/test-helpers')).withDiskFault(await orig(), fault));

let folder: string;
beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  folder = await tinyFolder();
});

function opts(runDir: string, extra: Partial<TrainTokenizerOptions> = {}): TrainTokenizerOptions {
  return tinyTokenizerOptions(runDir, folder, {
    seed: 3,
    settings: { logEvery: 1, checkpointEvery: 2, evalEvery: 0 },
    evalSamples: 0,
    ...extra,
  });
}

describe('disk full during a checkpoint write', () => {
  it('stops with CheckpointError, keeps the previous checkpoint, and resumes to the same losses and weights', async () => {
    const ref = await tmpRunDir();
    await trainTokenizer(opts(ref));

    const d = await tmpRunDir();
    // after step 3 is reported, only a few KB are left: the log lines fit, the step-4 checkpoint does not
    const run = trainTokenizer(
      opts(d, {
        onProgress: (e) => {
          if (e.phase === 'train' && e.step === 3 && fault.budget === Infinity) fault.budget = 16_000;
        },
      }),
    );
    const err = await run.then(
      () => null,
      (e: unknown) => e,
    );
    fault.budget = Infinity;
    expect(err, 'expected a CheckpointError').toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/cannot write checkpoint .*checkpoint\.safetensors.*ENOSPC/);
    expect(fault.failures).toBeGreaterThan(0);
    expect((await readdir(d)).filter((f) => f.includes('.tmp'))).toEqual([]);
    const kept = await loadCheckpoint(join(d, 'checkpoint.safetensors'));
    expect(kept.state.step).toBe(2);

    const done = await trainTokenizer(opts(d));
    expect(done).toMatchObject({ step: 6, done: true, resumedFrom: 2 });
    const losses = async (dir: string) =>
      (await readLog(join(dir, 'log.jsonl'))).filter((r) => r.type === 'train').map((r) => [r.step, r.loss]);
    expect(await losses(d)).toEqual(await losses(ref));
    expect((await readFile(join(d, 'model.safetensors'))).equals(await readFile(join(ref, 'model.safetensors')))).toBe(true);
  }, 300_000);
});

describe('disk full while writing the run log or config', () => {
  it('JsonlLog.append and writeTextAtomic throw DataIOError naming the file and ENOSPC, leaving no torn line or temporary file', async () => {
    const d = await tmpRunDir();
    const log = new JsonlLog(join(d, 'log.jsonl'));
    await log.append({ type: 'start', step: 0 });
    const before = await readFile(join(d, 'log.jsonl'), 'utf8');
    fault.budget = 10; // part of the next line fits
    const err = await log.append({ type: 'train', step: 1, loss: 1.5 }).then(
      () => null,
      (e: unknown) => e,
    );
    fault.budget = Infinity;
    expect(err).toBeInstanceOf(DataIOError);
    expect((err as Error).message).toMatch(/cannot write .*log\.jsonl \(ENOSPC\)/);
    expect(((err as DataIOError).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(await readFile(join(d, 'log.jsonl'), 'utf8')).toBe(before);
    expect(await readLog(join(d, 'log.jsonl'))).toHaveLength(1);

    await writeTextAtomic(join(d, 'config.json'), '{"a":1}\n');
    fault.budget = 3;
    const err2 = await writeTextAtomic(join(d, 'config.json'), '{"a":2}\n').then(
      () => null,
      (e: unknown) => e,
    );
    fault.budget = Infinity;
    expect(err2).toBeInstanceOf(DataIOError);
    expect((err2 as DataIOError).path).toBe(join(d, 'config.json'));
    expect(await readFile(join(d, 'config.json'), 'utf8')).toBe('{"a":1}\n');
    expect((await readdir(d)).filter((f) => f.includes('.tmp'))).toEqual([]);
  });
});
