import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@var/core';
import { loadFixtureCase, testBackends } from '@var/test-helpers';
import { AdamW, clipGradNorm, lrWdAnnealing, valLoss, VAR, VARTrainer, weightDecayScale, type VARConfig } from '../src/index.js';
import { fixtureModel, useBackend } from './helpers.js';

const fc = loadFixtureCase();

/** A tiny "dataset": per class a fixed token pyramid with 10% random tokens; inputs are codebook vectors of the previous scale, nearest-upsampled. */
function makeData(cfg: VARConfig, rng: Rng, B: number, codebook: Float32Array) {
  const { patchNums: pns, vocabSize: V, Cvae, numClasses } = cfg;
  const L = pns.reduce((a, p) => a + p * p, 0);
  const labels = new Int32Array(B);
  const gt = new Int32Array(B * L);
  const x = new Float32Array(B * (L - pns[0] * pns[0]) * Cvae);
  for (let b = 0; b < B; b++) {
    const c = rng.int(numClasses);
    labels[b] = c;
    let off = 0;
    const scales: Int32Array[] = [];
    for (let si = 0; si < pns.length; si++) {
      const pn = pns[si];
      const t = new Int32Array(pn * pn);
      for (let i = 0; i < pn * pn; i++) t[i] = rng.random() < 0.1 ? rng.int(V) : (c * 5 + i * 3 + si * 7) % V;
      gt.set(t, b * L + off);
      off += pn * pn;
      scales.push(t);
    }
    let xo = b * (L - pns[0] * pns[0]) * Cvae;
    for (let si = 1; si < pns.length; si++) {
      const pn = pns[si],
        pp = pns[si - 1];
      for (let r = 0; r < pn; r++)
        for (let q = 0; q < pn; q++) {
          const src = scales[si - 1][Math.floor((r * pp) / pn) * pp + Math.floor((q * pp) / pn)];
          for (let ch = 0; ch < Cvae; ch++) x[xo++] = codebook[src * Cvae + ch];
        }
    }
  }
  return { labels, gt, x: tf.tensor3d(x, [B, L - pns[0] * pns[0], Cvae]) };
}

const STEPS = 30;

describe('training', () => {
  beforeAll(async () => {
    // wasm: the tiny graphs here are dominated by per-op overhead, which is lowest on wasm
    expect(await useBackend(testBackends(['wasm']).length ? 'wasm' : 'cpu')).toBe(true);
  });

  it('lr/wd schedule follows lr_wd_annealing', () => {
    const peak = 1e-3;
    expect(lrWdAnnealing('lin0', peak, 0.05, 0.05, 0, 10, 100, 0.005, 0.01).lr).toBeCloseTo(0.005 * peak, 15);
    expect(lrWdAnnealing('lin0', peak, 0.05, 0.05, 5, 10, 100, 0.005, 0.01).lr).toBeCloseTo((0.005 + 0.995 * 0.5) * peak, 15);
    expect(lrWdAnnealing('lin0', peak, 0.05, 0.05, 10, 10, 100, 0.005, 0.01).lr).toBeCloseTo(peak, 15);
    expect(lrWdAnnealing('lin0', peak, 0.05, 0.05, 99, 10, 100, 0.005, 0.01).lr).toBeCloseTo(0.01 * peak, 15);
    expect(lrWdAnnealing('cos', peak, 0.05, 0.0, 99, 10, 100).wd).toBeCloseTo(0, 15);
    expect(lrWdAnnealing('cos', peak, 0.05, 0.0, 0, 10, 100).wd).toBeCloseTo(0.05, 15);
    expect(() => lrWdAnnealing('nope' as 'cos', peak, 0, 0, 50, 10, 100)).toThrow(/unknown schedule/);
  });

  it('weight decay groups follow filter_params + nowd_keys', async () => {
    const m = await fixtureModel(fc);
    const decayed = [...m.trainableVariables()].filter(([n, v]) => weightDecayScale(n, v.shape) === 1).map(([n]) => n);
    for (const n of decayed) expect(n).toMatch(/(word_embed|class_emb|mat_qkv|proj|fc1|fc2|ada_lin\.1|head)\.weight$/);
    expect(decayed).toContain('class_emb.weight');
    for (const n of ['pos_start', 'pos_1LC', 'lvl_embed.weight', 'blocks.0.attn.scale_mul_1H11', 'blocks.0.attn.q_bias', 'head.bias']) {
      expect(decayed).not.toContain(n);
    }
    expect(weightDecayScale('blocks.0.ada_gss', [1, 1, 6, 8])).toBe(0);
    m.dispose();
  });

  it('AdamW first step: p·(1−lr·wd) − lr·g/(|g|+eps); clipping scales to max norm', () => {
    const p = tf.variable(
      tf.tensor2d([
        [1, -2],
        [3, 4],
      ]),
    );
    const g = new Map<string, tf.Tensor>([
      [
        'w',
        tf.tensor2d([
          [0.5, -0.1],
          [2, 0],
        ]),
      ],
    ]);
    const opt = new AdamW(new Map([['w', p]]));
    const norm = clipGradNorm(g, 1);
    expect(norm).toBeCloseTo(Math.sqrt(0.25 + 0.01 + 4), 5);
    const clipped = g.get('w')!.dataSync();
    expect(Math.hypot(...clipped)).toBeCloseTo(1, 5);
    opt.step(g, 0.1, 0.05);
    const want = [1, -2, 3, 4].map((v, i) => v * (1 - 0.1 * 0.05) - (0.1 * clipped[i]) / (Math.abs(clipped[i]) + 1e-8));
    const got = p.dataSync();
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 5));
    tf.dispose([...g.values(), p]);
    opt.dispose();
  });

  it('a short seeded run lowers the loss; same seed → same run; no tensor leaks', () => {
    const cfg: VARConfig = {
      numClasses: 4,
      depth: 2,
      embedDim: 64,
      numHeads: 2,
      mlpRatio: 4,
      normEps: 1e-6,
      sharedAln: false,
      condDropRate: 0.1,
      attnL2Norm: true,
      patchNums: [1, 2, 3],
      vocabSize: 16,
      Cvae: 4,
    };
    const run = (steps: number) => {
      const rng = new Rng(123);
      const codebook = Float32Array.from({ length: cfg.vocabSize * cfg.Cvae }, () => rng.normal());
      const evalSet = makeData(cfg, new Rng(999), 16, codebook);
      const model = VAR.create(cfg, { seed: 5 });
      const trainer = new VARTrainer(model, { peakLr: 3e-3, maxIt: steps, wpIt: 5, seed: 11, gradClip: 2 });
      const evalLoss = () => tf.tidy(() => valLoss(model.forward(evalSet.labels, evalSet.x), evalSet.gt).dataSync()[0]);
      const before = evalLoss();
      const losses: number[] = [];
      const t0 = tf.memory().numTensors;
      for (let it = 0; it < steps; it++) {
        const batch = makeData(cfg, rng, 8, codebook);
        losses.push(trainer.step(batch.labels, batch.x, batch.gt).loss);
        batch.x.dispose();
      }
      expect(tf.memory().numTensors).toBe(t0);
      const after = evalLoss();
      trainer.dispose();
      model.dispose();
      evalSet.x.dispose();
      return { before, after, losses };
    };
    const t = performance.now();
    const a = run(STEPS);
    console.log(
      `training: eval CE ${a.before.toFixed(3)} → ${a.after.toFixed(3)} in ${STEPS} steps (${((performance.now() - t) / 1000).toFixed(1)} s)`,
    );
    expect(a.before).toBeGreaterThan(Math.log(16) - 0.2);
    expect(a.after).toBeLessThan(a.before - 1.0);
    // determinism: two runs with the same seeds give bit-identical losses
    const b = run(3);
    const c = run(3);
    expect(c.losses).toEqual(b.losses);
    expect(b.losses.every(Number.isFinite)).toBe(true);
  });

  it('progressive training runs the first scales only; conditional dropout uses the seed', () => {
    const cfg: VARConfig = {
      numClasses: 4,
      depth: 1,
      embedDim: 32,
      numHeads: 2,
      mlpRatio: 2,
      normEps: 1e-6,
      sharedAln: true,
      condDropRate: 0.5,
      attnL2Norm: false,
      patchNums: [1, 2, 3],
      vocabSize: 8,
      Cvae: 2,
    };
    const model = VAR.create(cfg, { seed: 1 });
    const x = tf.randomNormal([2, 13, 2], 0, 1, 'float32', 3) as tf.Tensor3D;
    const logits = model.forward([1, 2], x, { progSi: 1 });
    expect(logits.shape).toEqual([2, 5, 8]);
    const a = model.forward([1, 2], x, { training: true, rng: 4 });
    const b = model.forward([1, 2], x, { training: true, rng: 4 });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const trainer = new VARTrainer(model, { peakLr: 1e-3, maxIt: 10, seed: 2 });
    const gt = new Int32Array(2 * 14).map((_, i) => i % 8);
    const r = trainer.step([1, 2], x, gt, { progSi: 1 });
    expect(r.progSi).toBe(1);
    expect(Number.isFinite(r.loss)).toBe(true);
    const r2 = trainer.step([1, 2], x, gt, { progSi: 2 });
    expect(r2.progSi).toBe(-1); // the last stage is "no progressive training"
    tf.dispose([x, logits, a, b]);
    trainer.dispose();
    model.dispose();
  });
});
