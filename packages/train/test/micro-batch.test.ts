import * as tf from '@tensorflow/tfjs-core';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ensureGradients, initBackend, OutOfMemoryError, Rng } from '@var/core';
import { lossGrads, VAR, type VARConfig } from '@var/transformer';
import {
  chooseMicroBatch,
  estimateTrainStepBytes,
  microBatchLossGrads,
  readLog,
  trainTokenizer,
  trainVAR,
  type TrainVAROptions,
} from '../src/index.js';
import { tinyFolder, tmpRunDir } from './helpers.js';
import { tinyFolderDataset, tinyTokenizerModel } from '@var/test-helpers';

const small: VARConfig = {
  numClasses: 5,
  depth: 3,
  embedDim: 32,
  numHeads: 2,
  mlpRatio: 4,
  normEps: 1e-6,
  sharedAln: false,
  condDropRate: 0.5,
  attnL2Norm: true,
  dropPathRate: 0.3,
  patchNums: [1, 2, 3],
  vocabSize: 32,
  Cvae: 8,
};

function batchOf(cfg: VARConfig, B: number) {
  const L = cfg.patchNums.reduce((a, p) => a + p * p, 0);
  const r = new Rng(11);
  const x = tf.tensor3d(
    Float32Array.from({ length: B * (L - 1) * cfg.Cvae }, () => r.normal()),
    [B, L - 1, cfg.Cvae],
  );
  const gt = Int32Array.from({ length: B * L }, () => Math.floor(r.random() * cfg.vocabSize));
  const labels = Int32Array.from({ length: B }, (_, i) => i % cfg.numClasses);
  return { x, gt, labels };
}

function maxRelDiff(a: tf.Tensor, b: tf.Tensor): number {
  const av = a.dataSync();
  const bv = b.dataSync();
  let d = 0;
  let m = 0;
  for (let i = 0; i < av.length; i++) {
    d = Math.max(d, Math.abs(av[i] - bv[i]));
    m = Math.max(m, Math.abs(bv[i]));
  }
  return m === 0 ? d : d / m;
}

beforeAll(async () => {
  await ensureGradients();
  await initBackend('wasm', { threads: 1 });
});

describe('microBatchLossGrads', () => {
  it('accumulated micro-batch gradients equal the full-batch gradients (1e-5 relative), same draws per sample', () => {
    const model = VAR.create(small, { seed: 1 });
    const { x, gt, labels } = batchOf(small, 7);
    const n0 = tf.memory().numTensors;
    const rFull = new Rng(5);
    const full = lossGrads(model, labels, x, gt, { training: true, rng: rFull });
    for (const micro of [3, 1]) {
      const rMicro = new Rng(5);
      const acc = microBatchLossGrads(model, labels, x, gt, micro, { rng: rMicro });
      expect(acc.passes).toBe(Math.ceil(7 / micro));
      expect(Math.abs(acc.loss - full.loss) / full.loss).toBeLessThan(1e-5);
      expect([...acc.grads.keys()]).toEqual([...full.grads.keys()]);
      let worst = 0;
      for (const [n, g] of full.grads) worst = Math.max(worst, maxRelDiff(acc.grads.get(n)!, g));
      expect(worst).toBeLessThan(1e-5);
      // the random source advanced as by the one full pass (label dropout and drop-path: 7 draws × (1 + 2 blocks))
      expect(rMicro.getState()).toEqual(rFull.getState());
      tf.dispose([...acc.grads.values()]);
    }
    // the draws matter: another seed gives other gradients
    const other = microBatchLossGrads(model, labels, x, gt, 3, { rng: new Rng(6) });
    let moved = 0;
    for (const [n, g] of full.grads) moved = Math.max(moved, maxRelDiff(other.grads.get(n)!, g));
    expect(moved).toBeGreaterThan(1e-3);
    tf.dispose([...other.grads.values(), ...full.grads.values()]);
    expect(tf.memory().numTensors).toBe(n0);
    tf.dispose(x);
    model.dispose();
  });
});

describe('estimateTrainStepBytes', () => {
  it('lies above the measured tf.profile peak of a training pass and within 1.3× of it', async () => {
    const cfg: VARConfig = {
      ...small,
      depth: 2,
      embedDim: 64,
      numHeads: 2,
      patchNums: [1, 2, 3, 4],
      vocabSize: 64,
      Cvae: 16,
      dropPathRate: 0,
    };
    const model = VAR.create(cfg, { seed: 0 });
    const est = estimateTrainStepBytes(cfg, model.numParameters());
    for (const B of [1, 4]) {
      const { x, gt, labels } = batchOf(cfg, B);
      const base = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const r = lossGrads(model, labels, x, gt, { training: true, rng: 1 });
        tf.dispose([...r.grads.values()]);
      });
      const measured = info.peakBytes - base;
      const estimated = est.stepFixedBytes + B * est.perSampleBytes;
      expect(estimated).toBeGreaterThanOrEqual(measured);
      expect(estimated).toBeLessThan(1.3 * measured);
      x.dispose();
    }
    model.dispose();
  });
});

describe('chooseMicroBatch', () => {
  const est = { perSampleBytes: 100, stepFixedBytes: 50, parameterBytes: 10 };
  it('auto: the whole batch when it fits, else the even split of the largest that fits', () => {
    expect(chooseMicroBatch(16, 'auto', est, 50 + 1600)).toBe(16);
    expect(chooseMicroBatch(16, undefined, est, Infinity)).toBe(16);
    // room for 10 (+ the accumulator): 16 runs as two passes of 8
    expect(chooseMicroBatch(16, 'auto', est, 50 + 1000 + 10)).toBe(8);
    expect(chooseMicroBatch(16, 'auto', est, 50 + 500 + 10)).toBe(4); // room for 5 → 4 passes of 4
    expect(chooseMicroBatch(16, 3, est, 50 + 1000 + 10)).toBe(3); // an explicit value is honoured
  });
  it('too large: OutOfMemoryError naming the largest micro-batch that fits; none fits: largestBatch 0', () => {
    const e1 = (() => {
      try {
        return chooseMicroBatch(16, 12, est, 50 + 1000 + 10, 'wasm');
      } catch (e) {
        return e as OutOfMemoryError;
      }
    })();
    expect(e1).toBeInstanceOf(OutOfMemoryError);
    expect(e1).toMatchObject({ code: 'E_OUT_OF_MEMORY', largestBatch: 10 });
    expect((e1 as Error).message).toMatch(/the largest micro-batch that fits is 10 .*2 passes/);
    expect(() => chooseMicroBatch(16, 'auto', est, 100, 'wasm')).toThrow(/not even micro-batch 1 fits.*wasm addresses at most 4 GiB/);
    expect(() => chooseMicroBatch(16, 0, est, 1e9)).toThrow(ConfigError);
    expect(() => chooseMicroBatch(16, 17, est, 1e9)).toThrow(/train.microBatch must be 'auto' or an integer 1..batchSize \(16\)/);
  });
});

describe('trainVAR micro-batches', () => {
  let folder: string;
  let tokRun: string;
  const prevBudget = process.env.VAR_MEMORY_BUDGET_BYTES;
  beforeAll(async () => {
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
  afterEach(() => {
    if (prevBudget === undefined) delete process.env.VAR_MEMORY_BUDGET_BYTES;
    else process.env.VAR_MEMORY_BUDGET_BYTES = prevBudget;
  });
  const opts = (runDir: string, microBatch?: number | 'auto'): TrainVAROptions => ({
    runDir,
    tokenizer: tokRun,
    model: { depth: 2, embedDim: 16, numHeads: 2, condDropRate: 0.5, dropPathRate: 0.2 },
    dataset: { name: 'folder', path: folder, size: 8, channels: 1, heldOutFraction: 0.25, hflip: 0.5 },
    train: { steps: 4, batchSize: 4, lr: 1e-3, warmupSteps: 1, ...(microBatch !== undefined ? { microBatch } : {}) },
    seed: 3,
    settings: { logEvery: 1, checkpointEvery: 100, evalEvery: 0 },
    eval: { valSamples: 0, perClass: 0 },
    classifier: false,
  });

  it('micro-batches of 1 and 3 train the same run as whole batches; auto picks what the memory allows', async () => {
    const n0 = tf.memory().numTensors;
    const losses: number[][] = [];
    for (const m of [undefined, 1, 3]) {
      const dir = await tmpRunDir();
      await trainVAR(opts(dir, m));
      const log = await readLog(join(dir, 'log.jsonl'));
      expect(log[0]).toMatchObject({ type: 'start', microBatch: m ?? 4 });
      losses.push(log.filter((r) => r.type === 'train').map((r) => r.loss as number));
    }
    expect(losses[0]).toHaveLength(4);
    for (const l of losses.slice(1)) for (let i = 0; i < 4; i++) expect(Math.abs(l[i] - losses[0][i])).toBeLessThan(1e-4 * losses[0][i]);
    // a budget with room for 2 samples (the estimate of this model): auto runs the batch of 4 as 2 passes of 2
    const dir = await tmpRunDir();
    const probe = VAR.create(await runConfig(opts(dir)), { seed: 0 });
    const est = estimateTrainStepBytes(probe.config, probe.numParameters());
    probe.dispose();
    process.env.VAR_MEMORY_BUDGET_BYTES = String(est.stepFixedBytes + 2 * est.perSampleBytes + est.parameterBytes);
    await trainVAR(opts(dir));
    const log = await readLog(join(dir, 'log.jsonl'));
    expect(log[0]).toMatchObject({ type: 'start', microBatch: 2 });
    expect(log.filter((r) => r.type === 'train').map((r) => r.loss as number)).toHaveLength(4);
    expect(tf.memory().numTensors).toBe(n0);
  });

  it('a batch that cannot fit is an OutOfMemoryError before any step (no tokens encoded, no checkpoint)', async () => {
    const dir = await tmpRunDir();
    process.env.VAR_MEMORY_BUDGET_BYTES = '4096';
    const n0 = tf.memory().numTensors;
    const err = await trainVAR(opts(dir)).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err.largestBatch).toBe(0);
    expect(err.message).toMatch(/a VAR training pass of 1 sample\(s\) \(train.batchSize 4\) needs about .* not even micro-batch 1 fits/);
    const files = await readdir(dir);
    expect(files.some((f) => f.startsWith('tokens-') || f.startsWith('checkpoint'))).toBe(false);
    expect(tf.memory().numTensors).toBe(n0);
    // an explicit micro-batch larger than what fits names the largest that does
    const probe = VAR.create(await runConfig(opts(dir)), { seed: 0 });
    const est = estimateTrainStepBytes(probe.config, probe.numParameters());
    probe.dispose();
    process.env.VAR_MEMORY_BUDGET_BYTES = String(est.stepFixedBytes + 2 * est.perSampleBytes + est.parameterBytes);
    const err2 = await trainVAR(opts(dir, 4)).then(
      () => null,
      (e) => e,
    );
    expect(err2).toBeInstanceOf(OutOfMemoryError);
    expect(err2.largestBatch).toBe(2);
    expect(err2.message).toMatch(/the largest micro-batch that fits is 2/);
  });
});

/** The VARConfig trainVAR builds for these options (its config.json after a first call). */
async function runConfig(o: TrainVAROptions): Promise<VARConfig> {
  const { loadTokenizer } = await import('../src/index.js');
  const { varModelConfig } = await import('../src/var.js');
  const tok = await loadTokenizer(o.tokenizer);
  try {
    return varModelConfig(o.model, tok.vae, 2);
  } finally {
    tok.vae.dispose();
  }
}
