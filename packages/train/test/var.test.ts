import * as tf from '@tensorflow/tfjs-core';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, initBackend } from '@var/core';
import { readSafetensors } from '@var/checkpoint';
import { DigitClassifier } from '@var/metrics';
import { VAR } from '@var/transformer';
import {
  cachedTokens,
  evalVAR,
  loadDataset,
  loadTokenizer,
  readLog,
  trainTokenizer,
  trainVAR,
  type ProgressEvent,
  type TrainVAROptions,
} from '../src/index.js';
import { tinyFolder, tmpRunDir } from './helpers.js';
import { tinyFolderDataset, tinyTokenizerModel } from '@var/test-helpers';

let folder: string;
let tokRun: string;
beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  folder = await tinyFolder();
  tokRun = await tmpRunDir();
  await trainTokenizer({
    runDir: tokRun,
    model: tinyTokenizerModel(),
    dataset: tinyFolderDataset(folder),
    train: { steps: 2, batchSize: 4 },
    classifier: false,
    evalSamples: 0,
  });
});

function opts(runDir: string, extra: Partial<TrainVAROptions> = {}): TrainVAROptions {
  return {
    runDir,
    tokenizer: tokRun,
    model: { depth: 2, embedDim: 16, numHeads: 2, condDropRate: 0.5 },
    dataset: { name: 'folder', path: folder, size: 8, channels: 1, heldOutFraction: 0.25, hflip: 0.5 },
    train: { steps: 6, batchSize: 4, lr: 1e-3, warmupSteps: 1 },
    seed: 3,
    settings: { logEvery: 1, checkpointEvery: 100, evalEvery: 3 },
    eval: { valSamples: 6, perClass: 0 },
    classifier: false,
    ...extra,
  };
}

describe('trainVAR', () => {
  it('caches tokens, logs, reports progress and resumes (fresh instances) to the same losses', async () => {
    const n0 = tf.memory().numTensors;
    const a = await tmpRunDir();
    const events: ProgressEvent[] = [];
    const full = await trainVAR(opts(a, { onProgress: (e) => events.push(e) }));
    expect(full).toMatchObject({ step: 6, done: true, reason: 'done' });
    const files = (await readdir(a)).sort();
    expect(files.filter((f) => !f.startsWith('tokens-'))).toEqual([
      'checkpoint.safetensors',
      'config.json',
      'log.jsonl',
      'model.safetensors',
    ]);
    expect(files.filter((f) => /^tokens-[0-9a-f]{16}\.safetensors$/.test(f))).toHaveLength(1);
    const cfg = JSON.parse(await readFile(join(a, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ kind: 'var', seed: 3, model: { depth: 2, patchNums: [1, 2, 4], vocabSize: 16, Cvae: 4, numClasses: 2 } });
    expect(cfg.tokenizer.sha256).toMatch(/^[0-9a-f]{64}$/);
    const logA = await readLog(join(a, 'log.jsonl'));
    expect(logA[0]).toMatchObject({ type: 'start', tokenCache: 'miss' });
    const trainA = logA.filter((r) => r.type === 'train');
    expect(trainA.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    const evals = logA.filter((r) => r.type === 'eval');
    expect(evals.map((r) => r.step)).toEqual([3, 6]);
    expect(evals[0].valLoss).toBeGreaterThan(0);
    expect(events.some((e) => e.phase === 'tokens' && e.done === e.total)).toBe(true);
    expect(events.filter((e) => e.phase === 'train').map((e) => e.loss)).toEqual(trainA.map((r) => r.loss));

    // interrupted after 4 steps (past an eval), resumed in fresh instances; the token cache is shared (hit)
    const b = await tmpRunDir();
    const part = await trainVAR(opts(b, { stopAfter: 4, tokenCacheDir: a }));
    expect(part).toMatchObject({ step: 4, done: false, reason: 'stopped' });
    const rest = await trainVAR(opts(b, { tokenCacheDir: a }));
    expect(rest).toMatchObject({ step: 6, done: true, resumedFrom: 4 });
    const logB = await readLog(join(b, 'log.jsonl'));
    expect(logB[0]).toMatchObject({ type: 'start', tokenCache: 'hit' });
    const trainB = logB.filter((r) => r.type === 'train');
    expect(trainB.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(trainB.map((r) => r.loss)).toEqual(trainA.map((r) => r.loss));
    expect(rest.lastLosses).toEqual(full.lastLosses);
    expect(rest.lastEval).toEqual(full.lastEval);
    expect(await readFile(join(b, 'model.safetensors'))).toEqual(await readFile(join(a, 'model.safetensors')));
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('a dataset change misses the token cache; a changed model config is a ConfigError', async () => {
    const a = await tmpRunDir();
    await trainVAR(opts(a, { stopAfter: 1, settings: { evalEvery: 0 } }));
    const c = await tmpRunDir();
    await trainVAR(
      opts(c, {
        stopAfter: 1,
        tokenCacheDir: a,
        dataset: { name: 'folder', path: folder, size: 8, channels: 1, heldOutFraction: 0.25, hflip: 0 },
        settings: { evalEvery: 0 },
      }),
    );
    expect((await readdir(a)).filter((f) => f.startsWith('tokens-'))).toHaveLength(2);
    expect((await readLog(join(c, 'log.jsonl')))[0]).toMatchObject({ tokenCache: 'miss' });
    await expect(trainVAR(opts(a, { model: { depth: 3, embedDim: 16, numHeads: 2 } }))).rejects.toThrow(ConfigError);
    await expect(trainVAR(opts(a, { model: { depth: 3, embedDim: 16, numHeads: 2 } }))).rejects.toThrow(/model\.depth/);
  });

  it('evaluates generated samples with the digit classifier (evalVAR)', async () => {
    const a = await tmpRunDir();
    await trainVAR(opts(a, { train: { steps: 2, batchSize: 4 }, settings: { evalEvery: 0 }, eval: { valSamples: 2, perClass: 0 } }));
    const n0 = tf.memory().numTensors;
    const { vae, hash } = await loadTokenizer(tokRun);
    const sf = await readSafetensors(join(a, 'model.safetensors'));
    const model = VAR.fromStateDict(JSON.parse(sf.metadata.config), sf.tensors);
    const ds = await loadDataset(opts(a).dataset);
    const cache = await cachedTokens(vae, hash, ds, a);
    expect(cache.hit).toBe(true);
    const classifier = await DigitClassifier.load();
    const m = await evalVAR(model, vae, cache.heldOut, { valSamples: 4, perClass: 3, cfg: 1.5, topK: 4, classifier, seed: 1 });
    expect(m.genSamples).toBe(6);
    expect(m.genAccuracy).toBeGreaterThanOrEqual(0);
    expect(m.genAccuracy).toBeLessThanOrEqual(1);
    expect(m.valLoss).toBeGreaterThan(0);
    expect(m.valTokenAcc).toBeGreaterThanOrEqual(0);
    classifier.dispose();
    model.dispose();
    vae.dispose();
    expect(tf.memory().numTensors).toBe(n0);
  });

  it("init: starts from a finished run's weights (recorded in the config), into a token cache dir that does not exist yet; a different architecture is a ConfigError", async () => {
    const a = await tmpRunDir();
    await trainVAR(opts(a, { settings: { evalEvery: 0 } }));
    const n0 = tf.memory().numTensors;
    const b = await tmpRunDir();
    const cacheDir = join(b, 'not', 'yet');
    const res = await trainVAR(
      opts(b, { init: a, tokenCacheDir: cacheDir, train: { steps: 2, batchSize: 4, lr: 0, warmupSteps: 0 }, settings: { evalEvery: 0 } }),
    );
    expect(res).toMatchObject({ step: 2, done: true });
    expect((await readdir(cacheDir)).filter((f) => f.startsWith('tokens-'))).toHaveLength(1);
    const cfg = JSON.parse(await readFile(join(b, 'config.json'), 'utf8'));
    expect(cfg.init).toEqual({ path: join(a, 'model.safetensors'), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect((await readLog(join(b, 'log.jsonl')))[0]).toMatchObject({ type: 'start', init: join(a, 'model.safetensors') });
    // lr 0 (and no weight decay at lr 0): the weights written are the init's
    const before = (await readSafetensors(join(a, 'model.safetensors'))).tensors;
    const after = (await readSafetensors(join(b, 'model.safetensors'))).tensors;
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, t] of before) expect(Array.from(after.get(k)!.data as Float32Array), k).toEqual(Array.from(t.data as Float32Array));
    // a fresh run of the same seed does not start from those weights
    const c = await tmpRunDir();
    await trainVAR(opts(c, { train: { steps: 2, batchSize: 4, lr: 0, warmupSteps: 0 }, settings: { evalEvery: 0 } }));
    const fresh = (await readSafetensors(join(c, 'model.safetensors'))).tensors;
    expect(Array.from(fresh.get('head.weight')!.data as Float32Array)).not.toEqual(
      Array.from(before.get('head.weight')!.data as Float32Array),
    );
    expect(tf.memory().numTensors).toBe(n0);
    const d = await tmpRunDir();
    await expect(trainVAR(opts(d, { init: a, model: { depth: 3, embedDim: 16, numHeads: 2 } }))).rejects.toThrow(ConfigError);
    await expect(trainVAR(opts(d, { init: join(a, 'nope.safetensors') }))).rejects.toThrow(/init: VAR weights not found/);
    // a warm-up that leaves no decay step would make the official schedule's lr NaN (0/0): refused
    await expect(trainVAR(opts(d, { train: { steps: 2, batchSize: 4, warmupSteps: 1 } }))).rejects.toThrow(
      /warmupSteps must be an integer 0\.\.steps − 2/,
    );
  });
});
