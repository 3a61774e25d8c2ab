import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, initBackend } from '@var/core';
import { readSafetensors } from '@var/checkpoint';
import { generate, isRasterPair, rasterPatchNums } from '@var/sampling';
import { VAR } from '@var/transformer';
import { loadTokenizer, trainTokenizer, trainVAR, type TrainVAROptions } from '../src/index.js';
import { tinyFolder, tinyTokenizerOptions, tmpRunDir } from './helpers.js';

// The raster-order baseline of [09]: a single-scale tokenizer (vPatchNums [g]) and a VAR whose
// scales are g² single tokens (causal mask, KV cache), trained and sampled by the same code.
let folder: string;
let singleTok: string;
let multiTok: string;
beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  folder = await tinyFolder();
  multiTok = await tmpRunDir();
  await trainTokenizer(tinyTokenizerOptions(multiTok, folder, { train: { steps: 2, batchSize: 4 }, evalSamples: 0 }));
  singleTok = await tmpRunDir();
  // fine-tuned from the multi-scale tokenizer into a single-scale one (the scales carry no weights)
  await trainTokenizer(
    tinyTokenizerOptions(singleTok, folder, {
      model: { ...tinyTokenizerOptions('', '').model, vPatchNums: [4] },
      train: { steps: 2, batchSize: 4 },
      evalSamples: 0,
      init: multiTok,
    }),
  );
});

function rasterOpts(runDir: string, extra: Partial<TrainVAROptions> = {}): TrainVAROptions {
  return {
    runDir,
    tokenizer: singleTok,
    order: 'raster',
    model: { depth: 2, embedDim: 16, numHeads: 2, condDropRate: 0.5 },
    dataset: { name: 'folder', path: folder, size: 8, channels: 1, heldOutFraction: 0.25 },
    train: { steps: 4, batchSize: 4, lr: 1e-3, warmupSteps: 1 },
    seed: 3,
    settings: { logEvery: 1, checkpointEvery: 100, evalEvery: 0 },
    eval: { valSamples: 6, perClass: 0 },
    classifier: false,
    ...extra,
  };
}

describe('raster-order baseline', () => {
  it('rasterPatchNums / isRasterPair', () => {
    expect(rasterPatchNums(3)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const model = {
      config: { numClasses: 2, patchNums: rasterPatchNums(4), vocabSize: 16, Cvae: 4 },
      startInference: () => {
        throw new Error('unused');
      },
    };
    expect(isRasterPair({ vPatchNums: [4] }, model)).toBe(true);
    expect(isRasterPair({ vPatchNums: [1, 2, 4] }, model)).toBe(false);
    expect(isRasterPair({ vPatchNums: [3] }, model)).toBe(false);
  });

  it('trains on a single-scale tokenizer, and KV-cached raster generation equals the teacher-forced pass', async () => {
    const dir = await tmpRunDir();
    const res = await trainVAR(rasterOpts(dir));
    expect(res).toMatchObject({ done: true, step: 4 });
    expect(Number.isFinite(res.lastEval!.valLoss)).toBe(true);
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(cfg.order).toBe('raster');
    expect(cfg.model.patchNums).toEqual(rasterPatchNums(4));

    const { vae } = await loadTokenizer(singleTok);
    const sf = await readSafetensors(join(dir, 'model.safetensors'));
    const model = VAR.fromStateDict(cfg.model, sf.tensors as never);
    const n0 = tf.memory().numTensors;
    const labels = [0, 1, 1];
    const r = await generate(vae, model, { labels, cfg: 0, seed: 5, returnLogits: true });
    expect(r.tokens).toHaveLength(1);
    expect(r.tokens[0]).toHaveLength(3 * 16);
    expect(r.images!.shape).toEqual([3, 1, 8, 8]);
    expect(r.logits).toHaveLength(16);
    // teacher-forced pass over the generated tokens gives the same logits at every position
    const idx = tf.tensor2d(r.tokens[0], [3, 16], 'int32');
    const cb = vae.quantizer.codebook as unknown as tf.Tensor2D;
    const tf_logits = tf.tidy(() => {
      const x = tf.reshape(tf.gather(cb, tf.reshape(tf.slice(idx, [0, 0], [3, 15]), [-1])), [3, 15, 4]) as tf.Tensor3D;
      return model.forward(labels, x).arraySync() as number[][][];
    });
    idx.dispose();
    let maxErr = 0;
    for (let t = 0; t < 16; t++)
      for (let b = 0; b < 3; b++)
        for (let v = 0; v < 16; v++) maxErr = Math.max(maxErr, Math.abs(r.logits![t][b * 16 + v] - tf_logits[b][t][v]));
    expect(maxErr).toBeLessThan(1e-4);
    r.images!.dispose();
    r.fHat.dispose();
    // constant guidance (the raster default) and a seeded rerun are reproducible
    const a = await generate(vae, model, { labels, cfg: 2, seed: 9, decode: false });
    const b = await generate(vae, model, { labels, cfg: 2, seed: 9, decode: false, cfgSchedule: 'constant' });
    expect(Array.from(a.tokens[0])).toEqual(Array.from(b.tokens[0]));
    a.fHat.dispose();
    b.fHat.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    await expect(generate(vae, model, { labels, moreSmooth: true })).rejects.toThrow(ConfigError);
    model.dispose();
    vae.dispose();
  });

  it('refuses a raster run on a multi-scale tokenizer', async () => {
    await expect(trainVAR(rasterOpts(await tmpRunDir(), { tokenizer: multiTok }))).rejects.toThrow(/single-scale tokenizer/);
  });
});
