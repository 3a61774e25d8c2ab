import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, initBackend, ValueError } from '@var/core';
import { loadModel, saveModel } from '@var/models';
import { VAR } from '@var/transformer';
import { evaluateDigitModel, isDecoderParameter, loadDataset, loadTokenizer, readRunConfig, trainTokenizer } from '../src/index.js';
import { meanPairwiseDistance } from '../src/quality.js';
import { varModelConfig } from '../src/var.js';
import { tinyTokenizerModel } from '@var/test-helpers';
import { tmpRunDir } from './helpers.js';

const tokModel = tinyTokenizerModel();
const mnist8 = { name: 'mnist' as const, size: 8 };
let tokRun: string;
beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  tokRun = await tmpRunDir();
  await trainTokenizer({
    runDir: tokRun,
    model: tokModel,
    dataset: mnist8,
    train: { steps: 2, batchSize: 4 },
    classifier: false,
    evalSamples: 0,
  });
});

describe('trainTokenizer init (fine-tuning)', () => {
  it('starts from the given tokenizer and records its path and hash', async () => {
    const run = await tmpRunDir();
    const { hash } = await loadTokenizer(tokRun);
    // lr ≈ 0: the fine-tuned weights stay those of the init model
    await trainTokenizer({
      runDir: run,
      init: tokRun,
      model: tokModel,
      dataset: mnist8,
      train: { steps: 1, batchSize: 4, lr: 1e-12, warmupSteps: 0 },
      classifier: false,
      evalSamples: 0,
    });
    const cfg = await readRunConfig<{ init: { sha256: string } }>(run);
    expect(cfg.init.sha256).toBe(hash);
    const a = await loadTokenizer(tokRun);
    const b = await loadTokenizer(run);
    const sa = a.vae.stateDict();
    const sb = b.vae.stateDict();
    for (const [k, v] of sa) {
      const x = v.data;
      const y = sb.get(k)!.data;
      let d = 0;
      for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
      expect(d, k).toBeLessThan(1e-6);
    }
    a.vae.dispose();
    b.vae.dispose();
  });

  it("trainable 'decoder' changes only the decoder: every image keeps its tokens", async () => {
    const run = await tmpRunDir();
    await trainTokenizer({
      runDir: run,
      init: tokRun,
      model: tokModel,
      dataset: mnist8,
      train: { steps: 3, batchSize: 4, lr: 1e-2, warmupSteps: 0, trainable: 'decoder' },
      classifier: false,
      evalSamples: 0,
    });
    const a = await loadTokenizer(tokRun);
    const b = await loadTokenizer(run);
    const sa = a.vae.stateDict();
    const sb = b.vae.stateDict();
    let decoderChanged = 0;
    for (const [k, v] of sa) {
      const same = v.data.every((x, i) => x === sb.get(k)!.data[i]);
      if (isDecoderParameter(k)) decoderChanged += same ? 0 : 1;
      else expect(same, k).toBe(true);
    }
    expect(decoderChanged).toBeGreaterThan(0);
    const img = tf.randomUniform([2, 1, 8, 8], -1, 1, 'float32', 5) as tf.Tensor4D;
    const ta = a.vae.imgToIdx(img);
    const tb = b.vae.imgToIdx(img);
    for (let i = 0; i < ta.length; i++) expect(Array.from(tb[i].dataSync())).toEqual(Array.from(ta[i].dataSync()));
    tf.dispose([img, ...ta, ...tb]);
    a.vae.dispose();
    b.vae.dispose();
    await expect(
      trainTokenizer({
        runDir: await tmpRunDir(),
        model: tokModel,
        dataset: mnist8,
        train: { steps: 1, batchSize: 4, trainable: 'decoder' },
        classifier: false,
        evalSamples: 0,
      }),
    ).rejects.toBeInstanceOf(ConfigError);
  });

  it('rejects an init tokenizer of another config', async () => {
    const run = await tmpRunDir();
    await expect(
      trainTokenizer({
        runDir: run,
        init: tokRun,
        model: { ...tokModel, vocabSize: 32 },
        dataset: mnist8,
        train: { steps: 1, batchSize: 4 },
        classifier: false,
        evalSamples: 0,
      }),
    ).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('meanPairwiseDistance', () => {
  it('is the mean Euclidean distance over all pairs of rows', () => {
    // a 3-4-5 triangle: pairs at 3, 4 and 5
    expect(meanPairwiseDistance(new Float32Array([0, 0, 3, 0, 0, 4]), 3, 2)).toBeCloseTo(4, 6);
    // one digit drawn again and again has no variety
    expect(meanPairwiseDistance(new Float32Array([1, 2, 1, 2, 1, 2]), 3, 2)).toBe(0);
    expect(meanPairwiseDistance(new Float32Array([1, 2]), 1, 2)).toBe(0);
  });
});

describe('evaluateDigitModel', () => {
  it('measures reconstructions and generated digits of a saved model, without leaking tensors', async () => {
    const ds = await loadDataset(mnist8);
    const { vae } = await loadTokenizer(tokRun);
    const model = VAR.create(varModelConfig({ depth: 1, embedDim: 16, numHeads: 2 }, vae, 10), { seed: 0 });
    const dir = join(await mkdtemp(join(tmpdir(), 'var-ship-')), 'digits');
    await saveModel(dir, {
      vae,
      var: model,
      card: { id: 'digits', name: 'tiny', dataset: { name: 'mnist', spec: ds.spec }, classNames: ds.classNames },
    });
    vae.dispose();
    model.dispose();
    const card = JSON.parse(await readFile(join(dir, 'model-card.json'), 'utf8'));
    expect(card.dataset.spec.size).toBe(8);
    const m = await loadModel(dir);
    const before = tf.memory().numTensors;
    const events: string[] = [];
    const q = await evaluateDigitModel(m.vae, m.var, ds, {
      heldOut: 20,
      perClass: 2,
      batchSize: 8,
      cfg: 1.5,
      onProgress: (e) => events.push(e.stage),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(q.heldOutImages).toBe(20);
    expect(q.generated).toBe(20);
    for (const v of [q.realAccuracy, q.recAccuracy, q.genAccuracy!]) expect(v >= 0 && v <= 1).toBe(true);
    expect(q.realAccuracy).toBeGreaterThan(0.25); // 8-px digits resized to 28: well above chance (0.1)
    expect(q.genAccuracyPerClass).toHaveLength(10);
    expect(Number.isFinite(q.recFid) && q.recFid > 0).toBe(true);
    expect(Number.isFinite(q.genFid!) && q.genFid! > 0).toBe(true);
    expect(q.fidRatio).toBeCloseTo(q.genFid! / q.recFid, 10);
    expect(q.sampling).toEqual({ cfg: 1.5, topK: 0, topP: 0, moreSmooth: false, seed: 0 });
    // diversity: per class, generated pairwise feature distance over real; an untrained model's samples vary
    expect(q.diversityPerClass).toHaveLength(10);
    expect(q.diversityPerClass!.every((d) => Number.isFinite(d) && d >= 0)).toBe(true);
    expect(q.diversityRatio).toBeCloseTo(q.diversityPerClass!.reduce((a, v) => a + v, 0) / 10, 10);
    expect(q.diversityRatio!).toBeGreaterThan(0);
    expect(events).toContain('reconstruct');
    expect(events).toContain('generate');
    expect(q.trainRealFid).toBeUndefined();
    // seeded: the same figures again; with the reference FIDs of unpaired training digits and their reconstructions
    const refEvents: string[] = [];
    const q2 = await evaluateDigitModel(m.vae, m.var, ds, {
      heldOut: 20,
      perClass: 2,
      batchSize: 8,
      cfg: 1.5,
      referenceFids: true,
      onProgress: (e) => refEvents.push(e.stage),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(q2.genFid).toBe(q.genFid);
    expect(q2.recFid).toBe(q.recFid);
    expect(refEvents).toContain('reference');
    expect(Number.isFinite(q2.trainRealFid!) && q2.trainRealFid! > 0).toBe(true);
    expect(Number.isFinite(q2.trainRecFid!) && q2.trainRecFid! > 0).toBe(true);
    expect(q2.trainRecFid).not.toBe(q2.trainRealFid);
    // the guidance schedule is reported when asked for
    const q3 = await evaluateDigitModel(m.vae, m.var, ds, { heldOut: 20, perClass: 2, batchSize: 8, cfg: 1.5, cfgSchedule: 'constant' });
    expect(q3.sampling.cfgSchedule).toBe('constant');
    await expect(evaluateDigitModel(m.vae, m.var, ds, { heldOut: 1 })).rejects.toBeInstanceOf(ValueError);
    m.vae.dispose();
    m.var.dispose();
  });
});
