import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectClose, formatReport, loadFixtureCase, testBackends } from '@var/test-helpers';
import { crossEntropyPerToken, trainLoss, valLoss, weightedLoss, lossWeights, type VAR } from '../src/index.js';
import { fixtureModel, labelsOf, useBackend, varInput } from './helpers.js';

const fc = loadFixtureCase();
const tol: Record<string, number> = { cpu: 1e-4, wasm: 1e-4, webgpu: 1e-3 };

for (const backend of testBackends(['cpu', 'wasm', 'webgpu'])) {
  describe(`VAR teacher-forced forward on ${backend}`, () => {
    let ok = false;
    let model: VAR;
    beforeAll(async () => {
      ok = await useBackend(backend);
      if (ok) model = await fixtureModel(fc);
    });
    afterAll(() => model?.dispose());

    it('logits match the official forward', async (ctx) => {
      if (!ok) ctx.skip();
      const x = varInput(fc);
      // every exact attention formulation gives the official logits
      for (const impl of ['auto', 'batched', 'perHead', 'perHeadBlocks'] as const) {
        model.attentionImpl = impl;
        const before = tf.memory().numTensors;
        const logits = model.forward(labelsOf(fc), x);
        expect(tf.memory().numTensors).toBe(before + 1);
        const ref = fc.ref('logits');
        expect(logits.shape).toEqual(ref.shape);
        const r = expectClose(`logits (${backend}, ${impl})`, { data: await logits.data(), shape: logits.shape }, ref, tol[backend]);
        console.log(formatReport(`logits ${backend} ${impl}`, r));
        logits.dispose();
      }
      model.attentionImpl = 'auto';
      x.dispose();
    });

    it('losses match loss_train, loss_train_per_token, loss_val, loss_val_weighted', async (ctx) => {
      if (!ok) ctx.skip();
      const x = varInput(fc);
      const logits = model.forward(labelsOf(fc), x);
      const gt = fc.ref('gt_BL');
      const before = tf.memory().numTensors;
      const per = crossEntropyPerToken(logits, gt.data as Int32Array, 0.1);
      const lt = trainLoss(logits, gt.data as Int32Array);
      const lv = valLoss(logits, gt.data as Int32Array);
      const per0 = crossEntropyPerToken(logits, gt.data as Int32Array, 0);
      const lvw = weightedLoss(per0, lossWeights(model.derived.beginEnds));
      expect(tf.memory().numTensors).toBe(before + 5);
      // float32 round-off grows with the loss: scale the tolerance above magnitude 4
      // (cases with many tokens or a wide head have per-token losses of 30+)
      const lossMax = (fc.ref('loss_train_per_token').data as Float32Array).reduce((a, v) => Math.max(a, Math.abs(v)), 0);
      const atol = (backend === 'webgpu' ? 1e-3 : 1e-5) * Math.max(1, lossMax / 4);
      expectClose('loss_train_per_token', { data: await per.data(), shape: per.shape }, fc.ref('loss_train_per_token'), atol);
      expectClose('loss_train', { data: await lt.data(), shape: [] }, fc.ref('loss_train'), atol);
      expectClose('loss_val', { data: await lv.data(), shape: [] }, fc.ref('loss_val'), atol);
      expectClose('loss_val_weighted', { data: await lvw.data(), shape: [] }, fc.ref('loss_val_weighted'), atol);
      tf.dispose([per, lt, lv, per0, lvw, logits, x]);
    });
  });
}
