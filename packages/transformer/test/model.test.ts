import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadStateDict } from '@var/checkpoint';
import { CheckpointError, ShapeError, ValueError } from '@var/core';
import { compareArrays, loadFixtureCase } from '@var/test-helpers';
import { initArgsFromOfficial, initStds, loadVAR, VAR, type VARConfig } from '../src/index.js';
import { fixtureConfig, fixtureModel, labelsOf, useBackend, varInput } from './helpers.js';

const fc = loadFixtureCase();

function stats(a: ArrayLike<number>) {
  let s = 0,
    s2 = 0;
  for (let i = 0; i < a.length; i++) {
    s += a[i];
    s2 += a[i] * a[i];
  }
  const mean = s / a.length;
  return { mean, std: Math.sqrt(s2 / a.length - mean * mean) };
}

describe('VAR model', () => {
  beforeAll(async () => {
    expect(await useBackend('cpu')).toBe(true);
  });

  it('official init: every weight group has the std of the formula', () => {
    const cfg: VARConfig = {
      numClasses: 40,
      depth: 4,
      embedDim: 256,
      numHeads: 4,
      mlpRatio: 4,
      normEps: 1e-6,
      sharedAln: false,
      condDropRate: 0.1,
      attnL2Norm: true,
      patchNums: [1, 2, 3, 4],
      vocabSize: 512,
      Cvae: 16,
    };
    const init = initArgsFromOfficial(fc.config.init_weights_args);
    const m = VAR.create(cfg, { seed: 7, init });
    const { auto, std, residual, head } = initStds(cfg, init);
    expect(auto).toBeCloseTo(Math.sqrt(1 / (3 * 256)), 12);
    const vars = m.trainableVariables();
    const C = cfg.embedDim;
    const check = (name: string, want: number, data?: ArrayLike<number>) => {
      const st = stats(data ?? vars.get(name)!.dataSync());
      expect(Math.abs(st.std / want - 1), `${name}: std ${st.std} vs ${want}`).toBeLessThan(0.05);
      expect(Math.abs(st.mean), name).toBeLessThan(want * 0.2);
    };
    for (const n of ['word_embed.weight', 'class_emb.weight', 'blocks.0.attn.mat_qkv.weight', 'blocks.3.ffn.fc1.weight']) check(n, std);
    check('pos_1LC', auto);
    for (const n of ['blocks.1.attn.proj.weight', 'blocks.2.ffn.fc2.weight']) check(n, residual);
    check('head.weight', head);
    check('head_nm.ada_lin.1.weight', std * init.initAdaln);
    const ada = m.stateDict().get('blocks.0.ada_lin.1.weight')!.data as Float32Array; // official (out, in): gamma rows first
    check('ada_lin gamma rows', std * init.initAdalnGamma, ada.subarray(0, 2 * C * C));
    check('ada_lin scale/shift rows', std * init.initAdaln, ada.subarray(2 * C * C));
    for (const [n, v] of vars) {
      if (/bias$/.test(n))
        expect(
          v.dataSync().every((x) => x === 0),
          n,
        ).toBe(true);
      if (/scale_mul_1H11$/.test(n))
        expect(
          v.dataSync().every((x) => x === Math.fround(Math.log(4))),
          n,
        ).toBe(true);
    }
    // seeded: same seed → same weights, another seed → other weights
    const m2 = VAR.create(cfg, { seed: 7, init });
    const m3 = VAR.create(cfg, { seed: 8, init });
    expect(compareArrays(m2.trainableVariables().get('head.weight')!.dataSync(), vars.get('head.weight')!.dataSync()).maxAbs).toBe(0);
    expect(
      compareArrays(m3.trainableVariables().get('head.weight')!.dataSync(), vars.get('head.weight')!.dataSync()).maxAbs,
    ).toBeGreaterThan(0);
    [m, m2, m3].forEach((x) => x.dispose());
  });

  it('official init with shared AdaLN: ada_gss and shared_ada_lin', () => {
    const cfg: VARConfig = {
      numClasses: 10,
      depth: 2,
      embedDim: 256,
      numHeads: 4,
      mlpRatio: 4,
      normEps: 1e-6,
      sharedAln: true,
      condDropRate: 0.1,
      attnL2Norm: false,
      patchNums: [1, 2],
      vocabSize: 64,
      Cvae: 8,
    };
    const m = VAR.create(cfg, { seed: 1 });
    const { std } = initStds(cfg);
    const g = m.trainableVariables().get('blocks.0.ada_gss')!.dataSync();
    const C = 256;
    expect(Math.abs(stats(g.subarray(0, 2 * C)).std / (1e-5 / 16) - 1)).toBeLessThan(0.1);
    expect(Math.abs(stats(g.subarray(2 * C)).std / (0.5 / 16) - 1)).toBeLessThan(0.1);
    expect(Math.abs(stats(m.trainableVariables().get('shared_ada_lin.1.weight')!.dataSync()).std / std - 1)).toBeLessThan(0.05);
    const before = tf.memory().numTensors;
    const x = tf.zeros([2, 4, 8]) as tf.Tensor3D;
    const out = m.forward([1, 10], x);
    expect(out.shape).toEqual([2, 5, 64]);
    const total = tf.sum(out);
    expect(Number.isFinite(total.dataSync()[0])).toBe(true);
    total.dispose();
    tf.dispose([x, out]);
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it('loads var.pth and var.safetensors alike; stateDict round-trips the official one', async () => {
    const cfg = fixtureConfig(fc);
    const fromPth = await loadVAR(fc.path('var.pth'), cfg);
    const sd = await loadStateDict(fc.path('var.safetensors'));
    const n0 = tf.memory().numTensors;
    fromPth.loadStateDict(sd); // loading into an existing model allocates nothing new
    expect(tf.memory().numTensors).toBe(n0);
    const out = fromPth.stateDict();
    expect([...out.keys()].sort()).toEqual([...sd.keys()].sort());
    for (const [k, t] of sd) {
      const o = out.get(k)!;
      expect(o.shape, k).toEqual(t.shape);
      expect(o.dtype, k).toBe(t.dtype);
      if (t.dtype === 'I64') expect([...(o.data as BigInt64Array)], k).toEqual([...(t.data as BigInt64Array)]);
      else expect(compareArrays(o.data as Float32Array, t.data as Float32Array).maxAbs, k).toBe(0);
    }
    fromPth.dispose();
  });

  it('mismatched checkpoints give CheckpointError listing the keys', async () => {
    const cfg = fixtureConfig(fc);
    const sd = await loadStateDict(fc.path('var.safetensors'));
    const deeper = { ...cfg, depth: cfg.depth + 1 };
    expect(() => VAR.fromStateDict(deeper, sd)).toThrow(CheckpointError);
    expect(() => VAR.fromStateDict(deeper, sd)).toThrow(new RegExp(`blocks\\.${cfg.depth}\\.attn\\.mat_qkv\\.weight`));
    const wider = { ...cfg, vocabSize: cfg.vocabSize + 1 };
    expect(() => VAR.fromStateDict(wider, sd)).toThrow(/head\.weight/);
    const m = VAR.create(cfg, { seed: 0 });
    const extra = new Map(sd);
    extra.set('not.a.key', sd.get('head.bias')!);
    expect(() => m.loadStateDict(extra)).toThrow(/not\.a\.key/);
    m.loadStateDict(extra, { strict: false }); // unexpected keys tolerated when not strict
    const lacking = new Map(sd);
    lacking.delete('head.bias');
    expect(() => m.loadStateDict(lacking)).toThrow(/missing[\s\S]*head\.bias/);
    m.dispose();
  });

  it('typed errors for bad labels and input shapes', async () => {
    const m = await fixtureModel(fc);
    const x = varInput(fc);
    const n = m.config.numClasses;
    const before = tf.memory().numTensors;
    // labels as many as the case's batch, the last one bad
    const B = x.shape[0];
    const withLast = (v: number) => [...Array<number>(B - 1).fill(0), v];
    expect(() => m.forward(withLast(n + 1), x)).toThrow(ValueError);
    expect(() => m.forward(withLast(-1), x)).toThrow(/out of range/);
    expect(() => m.forward(withLast(0.5), x)).toThrow(/not an integer/);
    expect(() => m.forward(Array<number>(B + 1).fill(0), x)).toThrow(ShapeError);
    const bad = tf.zeros([x.shape[0], x.shape[1] + 1, x.shape[2]]) as tf.Tensor3D;
    expect(() => m.forward(labelsOf(fc), bad)).toThrow(ShapeError);
    expect(() => m.startInference([n + 5])).toThrow(ValueError);
    bad.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // the unconditional class is a valid label
    const out = m.forward(Array<number>(B).fill(n), x);
    out.dispose();
    x.dispose();
    m.dispose();
  });

  it('disposes every tensor it owns', () => {
    const before = tf.memory().numTensors;
    const m = VAR.create(fixtureConfig(fc), { seed: 3 });
    expect(m.numParameters()).toBe(fc.config.derived.num_params_var);
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => m.forward([0], tf.zeros([1, 1, 1]) as tf.Tensor3D)).toThrow(/disposed/);
  });
});
