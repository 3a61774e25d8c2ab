/**
 * Random-init models in other configurations (phi variants, patch nums, znorm, vocab):
 * internal consistency of the quantiser paths, typed errors, no tensor leaks,
 * state-dict round trips.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, NonFiniteError, ShapeError, ValueError, interpolate } from '@var/core';
import { VQVAE, type VQVAEConfig } from '../src/index.js';
import { setBackend } from './backend.js';

const tiny: Partial<VQVAEConfig> = { ch: 32, chMult: [1, 2], numResBlocks: 1, zChannels: 4, vocabSize: 16 };

const variants: Array<[string, Partial<VQVAEConfig>]> = [
  ['non-shared phi (K = #scales), negative quantResi', { ...tiny, shareQuantResi: 0, quantResi: -0.5, vPatchNums: [1, 2, 3, 5] }],
  ['fully shared phi (shareQuantResi=1)', { ...tiny, shareQuantResi: 1, vPatchNums: [1, 3, 4] }],
  ['partially shared K=3, 6 scales', { ...tiny, shareQuantResi: 3, vPatchNums: [1, 2, 3, 4, 5, 6] }],
  ['usingZnorm, vocab 40', { ...tiny, usingZnorm: true, vocabSize: 40, vPatchNums: [1, 2, 4] }],
  [
    'identity phi (quantResi 0), non-shared with defaultQresiCounts=2',
    { ...tiny, quantResi: 0, shareQuantResi: 0, defaultQresiCounts: 2, vPatchNums: [2, 3, 4] },
  ],
  ['non-shared with defaultQresiCounts=2', { ...tiny, shareQuantResi: 0, defaultQresiCounts: 2, vPatchNums: [1, 2, 4, 5] }],
];

function randImg(B: number, size: number, seed: number): tf.Tensor4D {
  return tf.tidy(() => tf.tanh(tf.randomNormal([B, 3, size, size], 0, 1, 'float32', seed)) as tf.Tensor4D);
}

function maxAbs(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Assert `fn` leaves no tensor behind once its outputs are disposed. */
function noLeak<T>(fn: () => T): T {
  const before = tf.memory().numTensors;
  const out = fn();
  const flat = (o: unknown): tf.Tensor[] =>
    o instanceof tf.Tensor ? [o] : Array.isArray(o) ? o.flatMap(flat) : o && typeof o === 'object' ? Object.values(o).flatMap(flat) : [];
  const list = flat(out);
  const n = tf.memory().numTensors - before - list.length;
  expect(n, 'tensors leaked').toBe(0);
  return out;
}

beforeAll(async () => {
  expect(await setBackend('wasm')).toBe(true);
});

describe.each(variants)('%s', (_name, cfg) => {
  let vae: VQVAE;
  let img: tf.Tensor4D;
  const B = 2;
  beforeAll(() => {
    vae = VQVAE.create(cfg, { seed: 7, codebookInit: 0 });
    img = randImg(B, vae.imageSize, 3);
  });
  afterAll(() => {
    vae.dispose();
    img.dispose();
  });

  it('idxToFhat(imgToIdx(x)) equals the quantiser’s own f_hat, per scale', () => {
    const f = vae.encode(img);
    const { idx, fHat } = vae.quantizer.fToIdxAndFhat(f);
    const idx2 = noLeak(() => vae.imgToIdx(img));
    idx.forEach((t, si) => expect([...idx2[si].dataSync()]).toEqual([...t.dataSync()]));
    const per = noLeak(() => vae.idxToFhatPerScale(idx));
    per.forEach((t, si) => expect(maxAbs(t, fHat[si])).toBeLessThan(1e-5));
    const last = noLeak(() => vae.idxToFhat(idx));
    expect(maxAbs(last, fHat[fHat.length - 1])).toBeLessThan(1e-5);
    tf.dispose([f, ...idx, ...fHat, ...idx2, ...per, last]);
  });

  it('nearest code at the first scale is the brute-force argmin (or cosine argmax with znorm)', () => {
    const f = vae.encode(img);
    const idx = vae.quantizer.fToIdx(f);
    const pn = vae.config.vPatchNums[0];
    const z = tf.tidy(() => tf.reshape(tf.transpose(interpolate(f, [pn, pn], 'area'), [0, 2, 3, 1]), [-1, vae.config.zChannels]));
    const zs = z.arraySync() as number[][];
    const E = vae.quantizer.codebook.arraySync() as number[][];
    const got = idx[0].dataSync();
    zs.forEach((zv, n) => {
      let best = -1;
      let bestV = Infinity;
      E.forEach((e, k) => {
        let v: number;
        if (vae.config.usingZnorm) {
          const nz = Math.hypot(...zv),
            ne = Math.hypot(...e);
          v = -zv.reduce((s, x, c) => s + x * e[c], 0) / (Math.max(nz, 1e-12) * Math.max(ne, 1e-12));
        } else v = zv.reduce((s, x, c) => s + (x - e[c]) ** 2, 0);
        if (v < bestV) {
          bestV = v;
          best = k;
        }
      });
      expect(got[n]).toBe(best);
    });
    tf.dispose([f, ...idx, z]);
  });

  it('embed is a codebook lookup; nextAutoregressiveInput chains to the same f_hat and var input', () => {
    const idx = vae.imgToIdx(img);
    const S = vae.config.vPatchNums.length;
    const E = vae.quantizer.codebook.arraySync() as number[][];
    const pn1 = vae.config.vPatchNums[1];
    const h1 = noLeak(() => vae.quantizer.embed(idx[1], pn1));
    expect(h1.shape).toEqual([B, vae.config.zChannels, pn1, pn1]);
    const hv = h1.arraySync() as number[][][][];
    const iv = idx[1].arraySync() as number[][];
    for (let b = 0; b < B; b++)
      for (let i = 0; i < pn1 * pn1; i++)
        for (let c = 0; c < vae.config.zChannels; c++) {
          expect(hv[b][c][Math.floor(i / pn1)][i % pn1]).toBe(E[iv[b][i]][c]);
        }
    const vi = noLeak(() => vae.idxToVarInput(idx));
    const L = vae.config.vPatchNums.reduce((s, p) => s + p * p, 0);
    expect(vi.shape).toEqual([B, L - vae.config.vPatchNums[0] ** 2, vae.config.zChannels]);
    // the same input from S-1 maps
    const vi2 = vae.idxToVarInput(idx.slice(0, S - 1));
    expect(maxAbs(vi, vi2)).toBe(0);
    let fHat: tf.Tensor4D | null = null;
    let offset = 0;
    for (let si = 0; si < S; si++) {
      const pn = vae.config.vPatchNums[si];
      const h = vae.quantizer.embed(idx[si], pn);
      const r = noLeak(() => vae.quantizer.nextAutoregressiveInput(si, fHat, h));
      h.dispose();
      fHat?.dispose();
      fHat = r.fHat;
      if (si < S - 1) {
        const pNext = vae.config.vPatchNums[si + 1];
        expect(r.next!.shape).toEqual([B, vae.config.zChannels, pNext, pNext]);
        const flat = tf.tidy(() => tf.transpose(tf.reshape(r.next!, [B, vae.config.zChannels, pNext * pNext]), [0, 2, 1]));
        const part = tf.slice(vi, [0, offset, 0], [B, pNext * pNext, vae.config.zChannels]);
        expect(maxAbs(flat, part)).toBeLessThan(1e-6);
        offset += pNext * pNext;
        tf.dispose([flat, part, r.next!]);
      } else expect(r.next).toBeNull();
    }
    const ref = vae.idxToFhat(idx);
    expect(maxAbs(fHat!, ref)).toBeLessThan(1e-6);
    tf.dispose([...idx, h1, vi, vi2, fHat!, ref]);
  });

  it('decoding paths agree and stay in [-1, 1]; state dict round-trips', () => {
    const idx = vae.imgToIdx(img);
    const recs = noLeak(() => vae.reconstructionsPerScale(idx));
    const recsImg = noLeak(() => vae.reconstructionsPerScale(img));
    const rec = noLeak(() => vae.idxToImg(idx));
    const rec2 = noLeak(() => vae.reconstruct(img));
    expect(recs.length).toBe(vae.config.vPatchNums.length);
    expect(maxAbs(recs[recs.length - 1], rec)).toBeLessThan(1e-5);
    expect(maxAbs(recsImg[recsImg.length - 1], rec)).toBeLessThan(1e-4);
    expect(maxAbs(rec2, rec)).toBeLessThan(1e-4);
    const mm = tf.tidy(() => [tf.min(rec).dataSync()[0], tf.max(rec).dataSync()[0]]);
    expect(mm[0]).toBeGreaterThanOrEqual(-1);
    expect(mm[1]).toBeLessThanOrEqual(1);
    const sd = vae.stateDict();
    const other = VQVAE.fromStateDict(sd, vae.config);
    const rec3 = other.idxToImg(idx);
    expect(maxAbs(rec3, rec)).toBe(0);
    expect(other.numParameters()).toBe(vae.numParameters());
    other.dispose();
    tf.dispose([...idx, ...recs, ...recsImg, rec, rec2, rec3]);
  });
});

describe('phi sign, errors, leaks and state dicts', () => {
  let vae: VQVAE;
  const B = 2;
  let img: tf.Tensor4D;
  beforeAll(() => {
    vae = VQVAE.create({ ...tiny, vPatchNums: [1, 2, 4] }, { seed: 1 });
    img = randImg(B, vae.imageSize, 5);
  });
  afterAll(() => {
    vae.dispose();
    img.dispose();
  });

  it('the sign of quantResi is ignored', () => {
    const neg = VQVAE.fromStateDict(vae.stateDict(), { ...vae.config, quantResi: -vae.config.quantResi });
    const h = tf.randomNormal([1, vae.config.zChannels, 4, 4], 0, 1, 'float32', 9) as tf.Tensor4D;
    for (let si = 0; si < 3; si++) {
      const a = vae.quantizer.phiAt(si, h);
      const b = neg.quantizer.phiAt(si, h);
      expect(maxAbs(a, b)).toBe(0);
      tf.dispose([a, b]);
    }
    neg.dispose();
    h.dispose();
  });

  it('typed errors for bad input, without leaking tensors', () => {
    const P = vae.imageSize;
    const before = tf.memory().numTensors;
    const bad = (fn: () => unknown, type: new (...a: never[]) => Error, re: RegExp) => {
      const n0 = tf.memory().numTensors;
      expect(fn).toThrow(type);
      expect(fn).toThrow(re);
      expect(tf.memory().numTensors, `leak in ${fn}`).toBe(n0);
    };
    const oneCh = tf.zeros([1, 1, P, P]) as tf.Tensor4D;
    bad(() => vae.encode(oneCh), ShapeError, /3 channels/);
    const nhwc = tf.zeros([1, P, P, 3]) as tf.Tensor4D;
    bad(() => vae.encode(nhwc), ShapeError, /NHWC/);
    const odd = tf.zeros([1, 3, P + 1, P]) as tf.Tensor4D;
    bad(() => vae.encode(odd), ShapeError, /multiples of the downsample factor 2/);
    const big = tf.zeros([1, 3, 2 * P, 2 * P]) as tf.Tensor4D;
    bad(() => vae.imgToIdx(big), ShapeError, new RegExp(`needs ${P}x${P}`));
    const nan = tf.fill([1, 3, P, P], NaN) as tf.Tensor4D;
    bad(() => vae.encode(nan), NonFiniteError, /non-finite/);
    bad(() => vae.imgToIdx(nan), NonFiniteError, /NaN/);
    const r3 = tf.zeros([3, P, P]);
    bad(() => vae.encode(r3 as never), ShapeError, /rank 4/);
    const idx = vae.imgToIdx(img);
    const tooBig = tf.fill([B, 4], vae.config.vocabSize, 'int32') as tf.Tensor2D;
    bad(() => vae.idxToFhat([idx[0], tooBig, idx[2]]), ValueError, new RegExp(`\\[0, ${vae.config.vocabSize - 1}\\]`));
    const negIdx = tf.fill([B, 4], -1, 'int32') as tf.Tensor2D;
    bad(() => vae.idxToImg([idx[0], negIdx, idx[2]]), ValueError, /token indices/);
    const otherB = tf.zeros([B + 1, 4], 'int32') as tf.Tensor2D;
    bad(() => vae.idxToFhat([idx[0], otherB, idx[2]]), ShapeError, /batch mismatch/);
    bad(() => vae.idxToVarInput([idx[0], otherB, idx[2]]), ShapeError, /batch mismatch/);
    bad(() => vae.idxToFhat(idx.slice(0, 2)), ShapeError, /3 token maps/);
    const wrongL = tf.zeros([B, 5], 'int32') as tf.Tensor2D;
    bad(() => vae.idxToFhat([idx[0], wrongL, idx[2]]), ShapeError, /\(B, 4\)/);
    const floatIdx = tf.zeros([B, 4]) as tf.Tensor2D;
    bad(() => vae.idxToFhat([idx[0], floatIdx, idx[2]]), ValueError, /int32/);
    bad(() => vae.quantizer.embed(tooBig, 2), ValueError, /token indices/);
    const h = tf.zeros([B, vae.config.zChannels, 2, 2]) as tf.Tensor4D;
    const fh = tf.zeros([B + 1, vae.config.zChannels, 4, 4]) as tf.Tensor4D;
    bad(() => vae.quantizer.nextAutoregressiveInput(1, fh, h), ShapeError, /batch mismatch/);
    bad(() => vae.quantizer.nextAutoregressiveInput(0, null, h), ShapeError, /must be 1x1/);
    bad(() => vae.quantizer.nextAutoregressiveInput(5, null, h), ValueError, /si must be/);
    const fBad = tf.zeros([B, vae.config.zChannels + 1, 4, 4]) as tf.Tensor4D;
    bad(() => vae.fhatToImg(fBad), ShapeError, /channels/);
    const f3 = tf.zeros([1, vae.config.zChannels, 3, 3]) as tf.Tensor4D;
    bad(() => vae.quantizer.fToIdx(f3), ShapeError, /must be 4x4/);
    tf.dispose([oneCh, nhwc, odd, big, nan, r3, ...idx, tooBig, negIdx, otherB, wrongL, floatIdx, h, fh, fBad, f3]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('no leaks around every public call', () => {
    const f = noLeak(() => vae.encode(img));
    noLeak(() => vae.quantizer.fToIdx(f)).forEach((t) => t.dispose());
    noLeak(() => vae.quantizer.fToFhatPerScale(f)).forEach((t) => t.dispose());
    const both = noLeak(() => vae.quantizer.fToIdxAndFhat(f));
    noLeak(() => vae.fhatToImg(f)).dispose();
    noLeak(() => vae.decode(f)).dispose();
    noLeak(() => vae.quantizer.phiAt(0, f)).dispose();
    const before = tf.memory().numTensors;
    const sd = vae.stateDict();
    vae.loadStateDict(sd);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([f, ...both.idx, ...both.fHat]);
  });

  it('CheckpointError lists missing, unexpected and mis-shaped keys; strict: false loads the rest', () => {
    const sd = vae.stateDict();
    const broken = new Map(sd);
    broken.delete('decoder.conv_out.bias');
    broken.set('encoder.extra.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    broken.set('quant_conv.weight', { dtype: 'F32', shape: [4, 4, 1, 1], data: new Float32Array(16) });
    let err: unknown;
    try {
      vae.loadStateDict(broken);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CheckpointError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/missing key\(s\): decoder\.conv_out\.bias/);
    expect(msg).toMatch(/unexpected key\(s\): encoder\.extra\.weight/);
    expect(msg).toMatch(/mis-shaped key\(s\): quant_conv\.weight: checkpoint \[4, 4, 1, 1\] vs model \[4, 4, 3, 3\]/);
    expect((err as { missing: string[] }).missing).toEqual(['decoder.conv_out.bias']);
    // mis-shaped keys are an error even when not strict
    expect(() => vae.loadStateDict(broken, { strict: false })).toThrow(/mis-shaped/);
    broken.set('quant_conv.weight', sd.get('quant_conv.weight')!);
    // a smaller ema buffer (other number of scales) is skipped like the official loader does
    broken.set('quantize.ema_vocab_hit_SV', {
      dtype: 'F32',
      shape: [7, vae.config.vocabSize],
      data: new Float32Array(7 * vae.config.vocabSize),
    });
    const m = VQVAE.fromStateDict(broken, vae.config, { strict: false });
    const a = m.stateDict().get('encoder.conv_in.weight')!.data;
    expect([...a]).toEqual([...sd.get('encoder.conv_in.weight')!.data]);
    m.dispose();
    // the model is unchanged after a failed load
    const after = vae.stateDict();
    for (const [k, v] of sd)
      expect(
        after.get(k)!.data.every((x, i) => x === v.data[i]),
        k,
      ).toBe(true);
  });

  it('stateDict uses PyTorch layouts (conv OIHW) and loadStateDict inverts it', () => {
    const sd = vae.stateDict();
    const w = sd.get('encoder.conv_in.weight')!;
    expect(w.shape).toEqual([32, 3, 3, 3]);
    const v = vae.trainableVariables().get('encoder.conv_in.weight')!;
    expect(v.shape).toEqual([3, 3, 3, 32]); // internal HWIO
    const hwio = v.arraySync() as number[][][][];
    // OIHW[o][i][y][x] == HWIO[y][x][i][o]
    expect(w.data[((5 * 3 + 2) * 3 + 1) * 3 + 0]).toBe(hwio[1][0][2][5]);
    expect(vae.numParameters()).toBe(
      [...sd.values()].filter((_, i) => vae.entries[i].kind !== 'buffer').reduce((n, t) => n + t.data.length, 0),
    );
  });
});
