/**
 * Bad model directories: weights that are truncated, corrupt or of another config than the
 * card says, and a card that is not JSON. loadModel rejects with a typed error naming the file.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, ConfigError, initBackend } from '@var/core';
import { VQVAE, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { loadFixtureCase } from '@var/test-helpers';
import { MODEL_FILES, loadModel, saveModel } from '../src/index.js';

const fc = loadFixtureCase();
let tmp: string;
let good: string;

beforeAll(async () => {
  await initBackend('cpu');
  tmp = mkdtempSync(join(tmpdir(), 'var-models-errors-'));
  good = join(tmp, 'good');
  const vae = VQVAE.create(vqvaeConfig(fc.config.VQVAE), { seed: 1 });
  const model = VAR.create(varConfig(fc.config.VAR, fc.config.VQVAE), { seed: 2 });
  await saveModel(good, {
    vae,
    var: model,
    card: {
      id: 'tiny',
      name: 'tiny',
      dataset: { name: 'none' },
      classNames: Array.from({ length: fc.config.VAR.num_classes as number }, (_, i) => `c${i}`),
    },
  });
  vae.dispose();
  model.dispose();
}, 300_000);
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** A copy of the good model directory with `file` replaced by `bytes`. */
function broken(name: string, file: string, bytes: Uint8Array | string): string {
  const d = join(tmp, name);
  cpSync(good, d, { recursive: true });
  writeFileSync(join(d, file), bytes);
  return d;
}

describe('loadModel on a broken model directory', () => {
  it('truncated or corrupt weights: CheckpointError naming the file; no tensors leak', async () => {
    const before = tf.memory().numTensors;
    const w = readFileSync(join(good, MODEL_FILES.var));
    const cut = broken('cut', MODEL_FILES.var, w.subarray(0, Math.floor(w.length / 2)));
    await expect(loadModel(cut)).rejects.toBeInstanceOf(CheckpointError);
    const junk = broken('junk', MODEL_FILES.vae, 'not a checkpoint at all');
    await expect(loadModel(junk)).rejects.toBeInstanceOf(CheckpointError);
    await expect(loadModel(junk)).rejects.toThrow(new RegExp(MODEL_FILES.vae.replace('.', '\\.')));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('weights of another config than the card: CheckpointError naming the mismatched keys', async () => {
    const other = VAR.create(varConfig({ ...fc.config.VAR, depth: fc.config.VAR.depth + 1 }, fc.config.VQVAE), { seed: 3 });
    const d = join(tmp, 'deeper');
    const vae = VQVAE.create(vqvaeConfig(fc.config.VQVAE), { seed: 1 });
    await saveModel(d, {
      vae,
      var: other,
      card: {
        id: 'deeper',
        name: 'deeper',
        dataset: { name: 'none' },
        classNames: Array.from({ length: fc.config.VAR.num_classes as number }, (_, i) => `c${i}`),
      },
    });
    vae.dispose();
    other.dispose();
    // the deeper transformer's weights under the card of the original model
    const mixed = broken('mixed', MODEL_FILES.var, readFileSync(join(d, MODEL_FILES.var)));
    const err = await loadModel(mixed).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(new RegExp(`blocks\\.${fc.config.VAR.depth}\\.`));
  });

  it('a card that is not JSON or not a model card: ConfigError naming the card', async () => {
    const notJson = broken('not-json', MODEL_FILES.card, '{ nope');
    const e1 = await loadModel(notJson).then(
      () => null,
      (e: unknown) => e,
    );
    expect(e1).toBeInstanceOf(ConfigError);
    expect((e1 as Error).message).toMatch(new RegExp(MODEL_FILES.card.replace('.', '\\.')));
    const wrong = broken('wrong-card', MODEL_FILES.card, JSON.stringify({ hello: 'world' }));
    await expect(loadModel(wrong)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('saveModel where it cannot write', () => {
  it('a model directory under a file, or a weights file that is a folder: CheckpointError with the system code; no temporary file left', async () => {
    const vae = VQVAE.create(vqvaeConfig(fc.config.VQVAE), { seed: 1 });
    const model = VAR.create(varConfig(fc.config.VAR, fc.config.VQVAE), { seed: 2 });
    const card = {
      id: 'tiny',
      name: 'tiny',
      dataset: { name: 'none' },
      classNames: Array.from({ length: fc.config.VAR.num_classes as number }, (_, i) => `c${i}`),
    };
    try {
      const underFile = join(good, MODEL_FILES.card, 'sub');
      const e1 = await saveModel(underFile, { vae, var: model, card }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(e1).toBeInstanceOf(CheckpointError);
      expect((e1 as Error).message).toMatch(/saveModel: cannot write the model directory .*\((ENOTDIR|EEXIST)\)/);

      const d = join(tmp, 'blocked');
      const { mkdirSync, readdirSync } = await import('node:fs');
      mkdirSync(join(d, MODEL_FILES.vae), { recursive: true }); // a folder where the weights go
      const e2 = await saveModel(d, { vae, var: model, card }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(e2).toBeInstanceOf(CheckpointError);
      expect((e2 as Error).message).toContain(join(d, MODEL_FILES.vae));
      expect(((e2 as CheckpointError).cause as NodeJS.ErrnoException).code).toMatch(/^E/);
      expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      vae.dispose();
      model.dispose();
    }
  });
});
