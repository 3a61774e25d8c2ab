import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareArrays, formatReport, loadFixtureCase, testBackends } from '@var/test-helpers';
import type { VAR } from '../src/index.js';
import { fixtureModel, labelsOf, useBackend, varInput } from './helpers.js';

const fc = loadFixtureCase();

for (const backend of testBackends(['cpu', 'wasm'])) {
  describe(`KV-cached inference on ${backend}`, () => {
    let ok = false;
    let model: VAR;
    beforeAll(async () => {
      ok = await useBackend(backend);
      if (ok) model = await fixtureModel(fc);
    });
    afterAll(() => model?.dispose());

    function check(labels: Int32Array, x: tf.Tensor3D) {
      const { beginEnds, firstL } = model.derived;
      const full = model.forward(labels, x);
      const V = full.shape[2];
      const B = labels.length;
      const before = tf.memory().numTensors;
      const sess = model.startInference(labels);
      let worst = 0;
      for (let si = 0; si < beginEnds.length; si++) {
        const [b, e] = beginEnds[si];
        const xi = si === 0 ? null : tf.slice(x, [0, b - firstL, 0], [B, e - b, x.shape[2]]);
        const lg = sess.step(si, xi);
        expect(lg.shape).toEqual([B, e - b, V]);
        const want = tf.slice(full, [0, b, 0], [B, e - b, V]);
        const r = compareArrays(lg.dataSync(), want.dataSync(), lg.shape);
        worst = Math.max(worst, r.maxAbs);
        if (!(r.maxAbs <= 1e-5)) throw new Error(formatReport(`scale ${si}`, r));
        tf.dispose([lg, want, xi as tf.Tensor]);
      }
      sess.dispose();
      expect(tf.memory().numTensors).toBe(before);
      full.dispose();
      return worst;
    }

    it('step-by-step logits equal the teacher-forced pass (≤ 1e-5)', (ctx) => {
      if (!ok) ctx.skip();
      const x = varInput(fc);
      const w = check(labelsOf(fc), x);
      console.log(`[${backend}] KV cache vs full: max abs ${w.toExponential(3)}`);
      x.dispose();
    });

    it('the same for a classifier-free-guidance batch [labels, uncond × B]', (ctx) => {
      if (!ok) ctx.skip();
      const lab = labelsOf(fc);
      const cfgLabels = Int32Array.from([...lab, ...lab.map(() => model.config.numClasses)]);
      const x = varInput(fc);
      const x2 = tf.concat([x, x], 0);
      const w = check(cfgLabels, x2);
      console.log(`[${backend}] KV cache vs full (CFG batch): max abs ${w.toExponential(3)}`);
      tf.dispose([x, x2]);
    });

    it('scale 0 of a CFG session equals the official autoregressive_infer_cfg logits (t = 0 there)', (ctx) => {
      if (!ok) ctx.skip();
      const names = Object.keys(fc.refs.tensors).filter((n) => /^gen_cfg[\d.]+_logits_s0$/.test(n));
      if (!names.length) ctx.skip();
      const lab = labelsOf(fc);
      const sess = model.startInference(Int32Array.from([...lab, ...lab.map(() => model.config.numClasses)]));
      const l0 = sess.step(0, null);
      const B = lab.length;
      const cond = tf.slice(l0, [0, 0, 0], [B, l0.shape[1], l0.shape[2]]);
      for (const n of names) {
        const r = compareArrays(cond.dataSync(), fc.ref(n).data as Float32Array, cond.shape);
        expect(r.maxAbs, n).toBeLessThan(1e-4);
      }
      tf.dispose([l0, cond]);
      sess.dispose();
    });

    it('rejects out-of-order scales and wrong shapes', (ctx) => {
      if (!ok) ctx.skip();
      const sess = model.startInference(labelsOf(fc));
      expect(() => sess.step(1, null)).toThrow(/expected scale 0/);
      const l0 = sess.step(0, null);
      const bad = tf.zeros([1, 3, model.config.Cvae]) as tf.Tensor3D;
      expect(() => sess.step(1, bad)).toThrow(expect.objectContaining({ name: 'ShapeError' }));
      tf.dispose([l0, bad]);
      sess.dispose();
    });
  });
}
