import * as tf from '@tensorflow/tfjs-core';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, ConfigError, initBackend } from '@var/core';
import { readLog, trainTokenizer, type ProgressEvent, type TrainTokenizerOptions } from '../src/index.js';
import { tinyFolder, tmpRunDir, tinyTokenizerOptions } from './helpers.js';

let folder: string;
beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  folder = await tinyFolder();
});

function opts(runDir: string, extra: Partial<TrainTokenizerOptions> = {}): TrainTokenizerOptions {
  return tinyTokenizerOptions(runDir, folder, extra);
}

describe('trainTokenizer', () => {
  it('writes the run dir, logs every step, reports progress, and resumes to the same losses', async () => {
    const n0 = tf.memory().numTensors;
    const a = await tmpRunDir();
    const events: ProgressEvent[] = [];
    const full = await trainTokenizer(opts(a, { onProgress: (e) => events.push(e) }));
    expect(full).toMatchObject({ step: 6, done: true, reason: 'done', resumedFrom: 0 });
    expect((await readdir(a)).sort()).toEqual(['checkpoint.safetensors', 'config.json', 'log.jsonl', 'model.safetensors']);
    const cfg = JSON.parse(await readFile(join(a, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({
      kind: 'tokenizer',
      seed: 7,
      dataset: { name: 'folder', size: 8 },
      model: { vocabSize: 16 },
      train: { steps: 6 },
    });
    const logA = (await readLog(join(a, 'log.jsonl'))).filter((r) => r.type === 'train');
    expect(logA.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const r of logA) for (const k of ['loss', 'recLoss', 'vqLoss', 'lr', 'itPerSec', 'elapsedSec']) expect(typeof r[k]).toBe('number');
    const trainEvents = events.filter((e) => e.phase === 'train');
    expect(trainEvents.map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(trainEvents[5].loss).toBe(logA[5].loss);
    expect(trainEvents.every((e) => e.etaSec !== undefined && e.itPerSec! > 0)).toBe(true);
    expect(events.some((e) => e.phase === 'eval' && e.metrics!.psnr > 0)).toBe(true);

    // interrupted after 2 steps, resumed in a fresh model instance
    const b = await tmpRunDir();
    const part = await trainTokenizer(opts(b, { stopAfter: 2 }));
    expect(part).toMatchObject({ step: 2, done: false, reason: 'stopped' });
    const rest = await trainTokenizer(opts(b));
    expect(rest).toMatchObject({ step: 6, done: true, resumedFrom: 2 });
    const logB = (await readLog(join(b, 'log.jsonl'))).filter((r) => r.type === 'train');
    expect(logB.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(logB.map((r) => r.loss)).toEqual(logA.map((r) => r.loss));
    expect(rest.lastLosses).toEqual(full.lastLosses);
    expect(await readFile(join(b, 'model.safetensors'))).toEqual(await readFile(join(a, 'model.safetensors')));
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('refuses a mismatched config (ConfigError) and a corrupt checkpoint (CheckpointError)', async () => {
    const d = await tmpRunDir();
    await trainTokenizer(opts(d, { stopAfter: 1 }));
    const n0 = tf.memory().numTensors;
    await expect(trainTokenizer(opts(d, { train: { steps: 6, batchSize: 4, lr: 1e-3, warmupSteps: 2 } }))).rejects.toThrow(ConfigError);
    await expect(trainTokenizer(opts(d, { train: { steps: 6, batchSize: 4, lr: 1e-3, warmupSteps: 2 } }))).rejects.toThrow(/train\.lr/);
    const ck = join(d, 'checkpoint.safetensors');
    const bytes = await readFile(ck);
    await writeFile(ck, bytes.subarray(0, bytes.length - 100));
    await expect(trainTokenizer(opts(d))).rejects.toThrow(CheckpointError);
    expect(tf.memory().numTensors).toBe(n0);
  });
});
