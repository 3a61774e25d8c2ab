/**
 * The training objective: gradients against central finite differences of the same
 * objective with the detached quantities frozen (straight-through estimator semantics
 * of the official VectorQuantizer2.forward), the same gradients on every backend that
 * can train, and an optimiser step that lowers the loss.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VQVAE, VQVAETrainer, vqvaeGradients, vqvaeLossTensors, type VQVAEConfig } from '../src/index.js';
import { setBackend } from './backend.js';

const cfg: Partial<VQVAEConfig> = {
  ch: 32,
  chMult: [1, 2],
  numResBlocks: 1,
  zChannels: 4,
  vocabSize: 16,
  vPatchNums: [1, 2, 4],
  beta: 0.25,
};

/** The objective with idx, f, f_hat frozen at their values for the unperturbed weights. */
function frozenLoss(vae: VQVAE, img: tf.Tensor4D, idx0: tf.Tensor2D[], f0: tf.Tensor4D, fh0: tf.Tensor4D[]): number {
  const fh = vae.quantizer.idxToFhatPerScale(idx0);
  const v = tf.tidy(() => {
    const f = vae.encodeRaw(img);
    let vq: tf.Tensor = tf.scalar(0);
    for (let si = 0; si < fh.length; si++) {
      vq = tf.add(
        vq,
        tf.add(tf.mul(tf.mean(tf.squaredDifference(fh0[si], f)), vae.config.beta), tf.mean(tf.squaredDifference(fh[si], f0))),
      );
    }
    vq = tf.div(vq, fh.length);
    const ste = tf.add(tf.sub(fh0[fh0.length - 1], f0), f) as tf.Tensor4D;
    const rec = vae.decodeRaw(ste);
    return tf.add(tf.mean(tf.squaredDifference(rec, img)), vq).dataSync()[0];
  });
  tf.dispose(fh);
  return v;
}

// The training graph is plain tf ops with tfjs-core's gradients; on wasm the backprop kernels
// are @var/core's (registered by initBackend).

describe('VQVAE training objective', () => {
  let vae: VQVAE;
  let img: tf.Tensor4D;
  beforeAll(async () => {
    expect(await setBackend('cpu')).toBe(true);
    vae = VQVAE.create(cfg, { seed: 11 });
    img = tf.tidy(() => tf.tanh(tf.randomNormal([2, 3, vae.imageSize, vae.imageSize], 0, 1, 'float32', 4)) as tf.Tensor4D);
  });
  afterAll(() => {
    vae.dispose();
    img.dispose();
  });

  it('loss value equals the frozen reference; gradients match central finite differences (cpu)', () => {
    const before = tf.memory().numTensors;
    const g = vqvaeGradients(vae, img);
    expect(g.grads.size).toBe(vae.trainableVariables().size);
    const f0 = vae.encode(img);
    const { idx: idx0, fHat: fh0 } = vae.quantizer.fToIdxAndFhat(f0);
    const L0 = frozenLoss(vae, img, idx0, f0, fh0);
    expect(Math.abs(L0 - g.loss)).toBeLessThan(1e-5 * Math.max(1, Math.abs(L0)));
    // the parts are consistent
    expect(Math.abs(g.recLoss + g.vqLoss - g.loss)).toBeLessThan(1e-5);
    const names = [
      'encoder.conv_in.weight',
      'encoder.down.0.block.0.norm1.weight',
      'encoder.down.1.attn.0.qkv.weight',
      'encoder.mid.attn_1.proj_out.bias',
      'quant_conv.weight',
      'quantize.embedding.weight',
      'quantize.quant_resi.qresi_ls.2.weight',
      'post_quant_conv.weight',
      'decoder.mid.block_1.conv1.weight',
      'decoder.up.0.block.0.nin_shortcut.weight',
      'decoder.up.1.upsample.conv.bias',
      'decoder.norm_out.bias',
    ];
    const vars = vae.trainableVariables();
    const report: string[] = [];
    for (const name of names) {
      const v = vars.get(name)!;
      const grad = g.grads.get(name)!;
      const orig = v.clone();
      // a fixed random unit direction
      const d = tf.tidy(() => {
        const r = tf.randomNormal(v.shape, 0, 1, 'float32', name.length * 31);
        return tf.div(r, tf.norm(r));
      });
      const analytic = tf.tidy(() => tf.sum(tf.mul(grad, d)).dataSync()[0]);
      const eps = 1e-2;
      const plus = tf.tidy(() => tf.add(orig, tf.mul(d, eps)));
      const minus = tf.tidy(() => tf.sub(orig, tf.mul(d, eps)));
      v.assign(plus);
      const Lp = frozenLoss(vae, img, idx0, f0, fh0);
      v.assign(minus);
      const Lm = frozenLoss(vae, img, idx0, f0, fh0);
      tf.dispose([plus, minus]);
      v.assign(orig);
      const numeric = (Lp - Lm) / (2 * eps);
      report.push(`${name}: analytic ${analytic.toExponential(4)} numeric ${numeric.toExponential(4)}`);
      expect(Math.abs(analytic - numeric), report[report.length - 1]).toBeLessThan(2e-2 * Math.abs(numeric) + 2e-4);
      expect(Math.abs(analytic), `${name} gradient is not zero`).toBeGreaterThan(1e-6);
      tf.dispose([orig, d]);
    }
    console.log(report.join('\n'));
    tf.dispose([...g.grads.values(), f0, ...idx0, ...fh0]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the straight-through estimator passes the decoder gradient to f unchanged', () => {
    // d loss / d f = d rec / d f_ste + vq commitment term: check that the codebook gets no
    // gradient from the reconstruction (it only learns through the codebook term)
    const vars = vae.trainableVariables();
    const E = vars.get('quantize.embedding.weight')!;
    const { grads } = tf.tidy(() =>
      tf.variableGrads(() => {
        const t = vqvaeLossTensors(vae, img, { vqWeight: 0 });
        return t.loss;
      }, [E]),
    );
    const gE = grads[E.name];
    expect(tf.tidy(() => tf.max(tf.abs(gE)).dataSync()[0])).toBe(0);
    gE.dispose();
  });

  for (const backend of ['wasm'] as const) {
    it(`${backend} gradients equal cpu gradients`, async (ctx) => {
      await setBackend('cpu');
      const sd = vae.stateDict();
      const imgData = img.dataSync().slice();
      const ref = vqvaeGradients(vae, img);
      const refArr = new Map([...ref.grads].map(([k, t]) => [k, t.dataSync().slice()]));
      tf.dispose([...ref.grads.values()]);
      if (!(await setBackend(backend))) {
        await setBackend('cpu');
        return ctx.skip();
      }
      const m = VQVAE.fromStateDict(sd, vae.config);
      const x = tf.tensor4d(imgData, img.shape);
      const got = vqvaeGradients(m, x);
      expect(Math.abs(got.loss - ref.loss)).toBeLessThan(1e-4);
      let worst = 0;
      const errs: string[] = [];
      for (const [k, t] of got.grads) {
        const a = t.dataSync(),
          b = refArr.get(k)!;
        let scale = 1e-3;
        for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]));
        let w = 0;
        for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / scale);
        worst = Math.max(worst, w);
        if (w > 1e-4) errs.push(`${k}: ${w.toExponential(2)}`);
      }
      if (errs.length) console.log(errs.join('\n'));
      console.log(`${backend} vs cpu: worst gradient error relative to the tensor's max |g|: ${worst.toExponential(3)}`);
      expect(worst).toBeLessThan(1e-3);
      tf.dispose([...got.grads.values(), x]);
      m.dispose();
      await setBackend('cpu');
    });
  }

  it('Adam steps lower the loss on a fixed batch, without leaking tensors', async () => {
    const backend = (await setBackend('wasm')) ? 'wasm' : 'cpu';
    await setBackend(backend);
    const m = VQVAE.create(cfg, { seed: 3 });
    const x = tf.tidy(() => tf.tanh(tf.randomNormal([4, 3, m.imageSize, m.imageSize], 0, 1, 'float32', 8)) as tf.Tensor4D);
    const trainer = new VQVAETrainer(m, { learningRate: 3e-3 });
    const first = trainer.step(x);
    const n0 = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 24; i++) last = trainer.step(x);
    expect(tf.memory().numTensors).toBe(n0);
    console.log(
      `${backend}: loss ${first.loss.toFixed(4)} -> ${last.loss.toFixed(4)} (rec ${first.recLoss.toFixed(4)} -> ${last.recLoss.toFixed(4)})`,
    );
    expect(last.loss).toBeLessThan(0.7 * first.loss);
    trainer.dispose();
    m.dispose();
    x.dispose();
    await setBackend('cpu');
  });
});
