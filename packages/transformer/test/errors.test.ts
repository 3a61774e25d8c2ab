/**
 * Non-finite input to training: a NaN in the teacher-forcing input gives a NonFiniteError from
 * VARTrainer.step (the loss is checked before the update), the weights stay as they were and no
 * tensor leaks. Other bad input of this package is covered in config.test.ts, model.test.ts and
 * inference.test.ts (see docs/errors.md).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { NonFiniteError, ValueError, initBackend } from '@var/core';
import { VAR, VARTrainer, type VARConfig } from '../src/index.js';

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
});

const cfg: VARConfig = {
  numClasses: 4,
  depth: 1,
  embedDim: 32,
  numHeads: 2,
  mlpRatio: 2,
  normEps: 1e-6,
  sharedAln: false,
  condDropRate: 0,
  attnL2Norm: true,
  patchNums: [1, 2],
  vocabSize: 8,
  Cvae: 4,
};

describe('non-finite training input', () => {
  it('a NaN or an Infinity in the teacher-forcing input: NonFiniteError, weights unchanged, no tensor leaks', async () => {
    const model = VAR.create(cfg, { seed: 1 });
    const trainer = await VARTrainer.create(model, { peakLr: 1e-3, maxIt: 10, wpIt: 1, seed: 2 });
    const L = cfg.patchNums.reduce((a, p) => a + p * p, 0);
    const w0 = model.stateDict().get('head.weight')!.data.slice();
    for (const bad of [NaN, Infinity]) {
      const x = new Float32Array(2 * (L - 1) * cfg.Cvae).fill(0.1);
      x[3] = bad;
      const xt = tf.tensor3d(x, [2, L - 1, cfg.Cvae]);
      const before = tf.memory().numTensors;
      const err = (() => {
        try {
          trainer.step([0, 1], xt, new Array(2 * L).fill(1));
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(err, String(bad)).toBeInstanceOf(NonFiniteError);
      expect((err as Error).message).toMatch(/training loss is (NaN|Infinity|-Infinity)/);
      expect(tf.memory().numTensors).toBe(before);
      expect(model.stateDict().get('head.weight')!.data).toEqual(w0);
      xt.dispose();
    }
    // a bad option is a ValueError before anything is built
    expect(() => new VARTrainer(model, { peakLr: -1, maxIt: 10 })).toThrow(ValueError);
    trainer.dispose();
    model.dispose();
  }, 300_000);
});

describe('state dicts of the other AdaLN kind', () => {
  it('a shared-AdaLN checkpoint against a per-block config (and the reverse): CheckpointError that says which sharedAln loads it', () => {
    const n0 = tf.memory().numTensors;
    const shared = VAR.create({ ...cfg, sharedAln: true }, { seed: 1 });
    const perBlock = VAR.create(cfg, { seed: 1 });
    const sdShared = shared.stateDict();
    const sdPerBlock = perBlock.stateDict();
    shared.dispose();
    perBlock.dispose();
    expect(() => VAR.fromStateDict(cfg, sdShared)).toThrow(/uses shared AdaLN .*sharedAln: true/);
    expect(() => VAR.fromStateDict({ ...cfg, sharedAln: true }, sdPerBlock)).toThrow(/does not use shared AdaLN .*sharedAln: false/);
    const ok = VAR.fromStateDict({ ...cfg, sharedAln: true }, sdShared);
    ok.dispose();
    expect(tf.memory().numTensors).toBe(n0);
  });
});
