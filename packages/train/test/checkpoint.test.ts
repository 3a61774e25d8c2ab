import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '@var/checkpoint';
import { CheckpointError, ConfigError, Rng } from '@var/core';
import { JsonlLog, loadCheckpoint, prepareRunDir, readLog, saveCheckpoint, type Checkpoint } from '../src/index.js';
import { tmpRunDir } from './helpers.js';

function sample(): Checkpoint {
  const rng = new Rng(42);
  rng.random();
  return {
    state: {
      step: 12,
      epoch: 1,
      stepInEpoch: 3,
      elapsedSec: 4.5,
      optimizerStep: 12,
      rng: rng.getState(),
      configHash: 'abc',
      extra: { note: 'x' },
    },
    model: new Map([['w', { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }]]),
    optimizer: new Map([['m.w', { dtype: 'F32', shape: [2, 2], data: Float32Array.from([0.5, 0, 0, 1]) }]]),
  };
}

describe('checkpoints', () => {
  it('round-trip weights, optimizer moments, RNG state and data position; written atomically', async () => {
    const d = await tmpRunDir();
    const p = join(d, 'checkpoint.safetensors');
    await saveCheckpoint(p, sample());
    await saveCheckpoint(p, sample()); // overwrite
    expect(await readdir(d)).toEqual(['checkpoint.safetensors']); // no temp files left behind
    const back = await loadCheckpoint(p, { configHash: 'abc' });
    expect(back.state).toEqual(sample().state);
    expect(Array.from(back.model.get('w')!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(Array.from(back.optimizer.get('m.w')!.data as Float32Array)).toEqual([0.5, 0, 0, 1]);
    const r = new Rng(1);
    r.setState(back.state.rng!);
    const ref = new Rng(42);
    ref.random();
    expect(r.random()).toBe(ref.random());
  });

  it('typed errors: truncated, not a checkpoint, another config', async () => {
    const d = await tmpRunDir();
    const p = join(d, 'checkpoint.safetensors');
    await saveCheckpoint(p, sample());
    await expect(loadCheckpoint(p, { configHash: 'other' })).rejects.toThrow(CheckpointError);
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, 20));
    await expect(loadCheckpoint(p)).rejects.toThrow(CheckpointError);
    await writeFile(p, 'garbage');
    await expect(loadCheckpoint(p)).rejects.toThrow(/corrupt/);
    await writeSafetensors(p, new Map([['w', { dtype: 'F32', shape: [1], data: Float32Array.from([1]) }]]));
    await expect(loadCheckpoint(p)).rejects.toThrow(/not a var.ts training checkpoint/);
  });

  it('run dir: config.json is checked on resume (run settings may change); the log drops torn lines and steps after the checkpoint', async () => {
    const d = join(await tmpRunDir(), 'run');
    const cfg = { kind: 'tokenizer' as const, version: 1, seed: 1, model: { a: 1, b: [1, 2] }, run: { logEvery: 1 } };
    expect((await prepareRunDir(d, cfg)).existed).toBe(false);
    expect((await prepareRunDir(d, { ...cfg, run: { logEvery: 50 } })).existed).toBe(true);
    await expect(prepareRunDir(d, { ...cfg, seed: 2 })).rejects.toThrow(ConfigError);
    await expect(prepareRunDir(d, { ...cfg, model: { a: 1, b: [1, 3] } })).rejects.toThrow(/model\.b\[1\]/);
    await writeFile(join(d, 'config.json'), '{oops');
    await expect(prepareRunDir(d, cfg)).rejects.toThrow(ConfigError);

    const log = new JsonlLog(join(d, 'log.jsonl'));
    await log.append([
      { type: 'train', step: 1, loss: 2 },
      { type: 'checkpoint', step: 1 },
      { type: 'train', step: 2, loss: 1 },
    ]);
    await writeFile(join(d, 'log.jsonl'), (await readFile(join(d, 'log.jsonl'), 'utf8')) + '{"type":"train","st');
    expect((await readLog(join(d, 'log.jsonl'))).map((r) => r.step)).toEqual([1, 1, 2]);
    await log.truncateAfter(1);
    const text = await readFile(join(d, 'log.jsonl'), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect((await log.read()).map((r) => `${r.type}@${r.step}`)).toEqual(['train@1', 'checkpoint@1']);
  });
});
