import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareArrays, loadFixtureCase, testBackends } from '@var/test-helpers';
import { fromOfficialLayout, lossGrads, type VAR } from '../src/index.js';
import { fixtureModel, labelsOf, useBackend, varInput } from './helpers.js';

const fc = loadFixtureCase();

for (const backend of testBackends(['cpu', 'wasm'])) {
  describe(`gradients of loss_train on ${backend}`, () => {
    let ok = false;
    let model: VAR;
    beforeAll(async () => {
      ok = await useBackend(backend);
      if (ok) model = await fixtureModel(fc);
    });
    afterAll(() => model?.dispose());

    for (const impl of ['auto', 'perHead'] as const)
      it(`every parameter gradient matches grads.safetensors (norm-wise rel ≤ 1e-3), attention ${impl}`, (ctx) => {
        if (!ok) ctx.skip();
        model.attentionImpl = impl;
        // the model stores linear weights (in, out): their gradients have that layout
        const ref = fromOfficialLayout(model.config, fc.tensors('grads.safetensors'));
        const x = varInput(fc);
        const before = tf.memory().numTensors;
        const { loss, grads } = lossGrads(model, labelsOf(fc), x, fc.ref('gt_BL').data as Int32Array);
        // float32 round-off grows with the loss (cases with many tokens or a wide head reach 30+)
        const want = fc.ref('loss_train').data[0] as number;
        expect(Math.abs(loss - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want) / 4));
        const names = [...model.trainableVariables().keys()];
        expect(new Set(grads.keys())).toEqual(new Set(names));
        expect(new Set([...ref.keys()])).toEqual(new Set(names));
        const worst: string[] = [];
        let maxRel = 0;
        for (const name of names) {
          const g = grads.get(name)!;
          const e = ref.get(name)!;
          expect(g.shape).toEqual(e.shape);
          const r = compareArrays(g.dataSync(), e.data as Float32Array, e.shape);
          maxRel = Math.max(maxRel, r.relNorm);
          if (!(r.relNorm <= 1e-3) || r.nonFinite)
            worst.push(`${name}: relNorm=${r.relNorm.toExponential(3)} maxAbs=${r.maxAbs.toExponential(3)}`);
        }
        console.log(`[${backend}, ${impl}] grads: max norm-wise rel error over ${names.length} parameters = ${maxRel.toExponential(3)}`);
        tf.dispose([...grads.values()]);
        expect(tf.memory().numTensors).toBe(before);
        x.dispose();
        expect(worst).toEqual([]);
      });
  });
}
