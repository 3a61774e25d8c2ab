/**
 * Parity with the official PyTorch VQVAE on the fixture case of VAR_FIXTURE_DIR.
 * Every shape and option comes from the case's config.json / refs.json.
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError } from '@var/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectClose,
  expectEqualInts,
  formatReport,
  loadFixtureCase,
  caseBackends,
  testBackends,
  yieldToEventLoop,
  type FixtureTensor,
} from '@var/test-helpers';
import { VQVAE, fromOfficialConfig } from '../src/index.js';
import { setBackend } from './backend.js';

const fc = loadFixtureCase();
const config = fromOfficialConfig(fc.config.VQVAE);
const S = config.vPatchNums.length;

function t4(r: FixtureTensor): tf.Tensor4D {
  return tf.tensor4d(r.data as Float32Array, r.shape as [number, number, number, number]);
}

// cpu only where the case is small enough for it (the reason is logged); wasm/webgpu check every case
for (const backend of caseBackends(fc, ['cpu', 'wasm', 'webgpu'], 'VQVAE parity')) {
  const tol = backend === 'webgpu' ? 1e-3 : 1e-4;
  describe(`VQVAE parity on ${backend}`, () => {
    let vae: VQVAE;
    let img: tf.Tensor4D;
    let available = true;
    const log: string[] = [];
    beforeAll(async () => {
      available = await setBackend(backend);
      if (!available) return;
      vae = VQVAE.fromStateDict(fc.tensors('vae.safetensors'), config);
      img = t4(fc.ref('img'));
    });
    afterAll(() => {
      if (!available) return;
      vae.dispose();
      img.dispose();
      if (log.length) console.log(`[${backend}]\n` + log.join('\n'));
    });
    const check = async (name: string, t: tf.Tensor) => {
      const r = expectClose(`${backend} ${name}`, { data: (await t.data()) as Float32Array, shape: t.shape }, fc.ref(name), tol);
      log.push(formatReport(name, r));
      await yieldToEventLoop(); // the cpu backend computes each of these for seconds (one test blocked its worker 34 s)
    };

    it('enc_f, idx_s*, fhat_s*', async (ctx) => {
      if (!available) return ctx.skip();
      const before = tf.memory().numTensors;
      const f = vae.encode(img);
      await check('enc_f', f);
      const { idx, fHat } = vae.quantizer.fToIdxAndFhat(f);
      expect(idx.length).toBe(S);
      for (let si = 0; si < S; si++) {
        const ref = fc.ref(`idx_s${si}`);
        expect(idx[si].shape).toEqual(ref.shape);
        expectEqualInts(`${backend} idx_s${si}`, (await idx[si].data()) as Int32Array, ref.data);
        await check(`fhat_s${si}`, fHat[si]);
      }
      const viaImg = vae.imgToIdx(img);
      for (let si = 0; si < S; si++) expectEqualInts(`imgToIdx s${si}`, (await viaImg[si].data()) as Int32Array, fc.ref(`idx_s${si}`).data);
      tf.dispose([f, ...idx, ...fHat, ...viaImg]);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('recon, recon_all_s*, dec_of_fhat, var_input from the reference tokens', async (ctx) => {
      if (!available) return ctx.skip();
      const before = tf.memory().numTensors;
      const idx = Array.from({ length: S }, (_, si) => {
        const r = fc.ref(`idx_s${si}`);
        return tf.tensor2d(r.data as Int32Array, r.shape as [number, number], 'int32');
      });
      const recon = vae.idxToImg(idx);
      await check('recon', recon);
      const all = vae.reconstructionsPerScale(idx);
      for (let si = 0; si < S; si++) await check(`recon_all_s${si}`, all[si]);
      const fh = t4(fc.ref(`fhat_s${S - 1}`));
      const dec = vae.fhatToImg(fh);
      await check('dec_of_fhat', dec);
      const vi = vae.idxToVarInput(idx);
      await check('var_input', vi);
      const fromIdx = vae.idxToFhatPerScale(idx);
      for (let si = 0; si < S; si++) await check(`fhat_s${si}`, fromIdx[si]);
      tf.dispose([...idx, recon, ...all, fh, dec, vi, ...fromIdx]);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('VQVAE.load through @var/checkpoint (.pth and .safetensors)', () => {
  it('loads both files of the case bit-exactly, and the .pth model gives the reference tokens', async (ctx) => {
    if (!(await setBackend(testBackends(['wasm', 'cpu'])[0] ?? 'cpu'))) return ctx.skip();
    const ref = fc.tensors('vae.safetensors');
    const img = t4(fc.ref('img'));
    for (const file of ['vae.pth', 'vae.safetensors']) {
      const before = tf.memory().numTensors;
      const vae = await VQVAE.load(fc.path(file), config);
      const sd = vae.stateDict();
      expect([...sd.keys()]).toEqual([...ref.keys()]);
      for (const [k, t] of ref) {
        const a = sd.get(k)!.data,
          b = t.data;
        let same = a.length === b.length;
        for (let i = 0; same && i < b.length; i++) same = Object.is(a[i], b[i]);
        expect(same, `${file} ${k} differs`).toBe(true);
      }
      if (file === 'vae.pth') {
        const idx = vae.imgToIdx(img);
        for (let si = 0; si < S; si++)
          expectEqualInts(`${file} idx_s${si}`, (await idx[si].data()) as Int32Array, fc.ref(`idx_s${si}`).data);
        tf.dispose(idx);
      }
      vae.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
    // bytes work too, and a config that does not match the file gives a CheckpointError naming the keys
    const bytes = readFileSync(fc.path('vae.safetensors'));
    await expect(VQVAE.load(bytes, { ...config, vocabSize: config.vocabSize * 2 })).rejects.toThrow(
      /mis-shaped key\(s\):.*quantize\.embedding\.weight: checkpoint \[/,
    );
    await expect(VQVAE.load(bytes, { ...config, zChannels: config.zChannels + 1 })).rejects.toBeInstanceOf(CheckpointError);
    img.dispose();
  });
});
