/**
 * Parity with the official generation / zero-shot editing on the fixture case
 * (VAR_FIXTURE_DIR): every run, label, cfg and filter comes from refs.json's recorded calls,
 * every shape from config.json.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { expectClose, expectEqualInts, loadFixtureCase, caseBackends } from '@var/test-helpers';
import { edit, generate, type GenerateResult } from '../src/index.js';
import { loadModels, parseRunCall, type Models } from './models.js';
import { useBackend } from './backend.js';

const fc = loadFixtureCase();
const patchNums: number[] = fc.config.VAR.patch_nums;
const ATOL = 1e-4;

const genRuns = Object.keys(fc.refs.tensors)
  .map((k) => /^(gen_.+)_img$/.exec(k)?.[1])
  .filter((k): k is string => !!k);
const editRuns = Object.keys(fc.refs.tensors)
  .map((k) => /^(edit_.+)_img$/.exec(k)?.[1])
  .filter((k): k is string => !!k);

function checkRun(run: string, r: GenerateResult, editing: boolean): string[] {
  const lines: string[] = [];
  const V = fc.config.VQVAE.vocab_size;
  patchNums.forEach((pn, si) => {
    const tokName = editing ? `${run}_tokens_s${si}` : `${run}_idx_s${si}`;
    const ref = fc.ref(tokName);
    expect(ref.shape).toEqual([r.labels.length, pn * pn]);
    expectEqualInts(`${run} tokens s${si}`, r.tokens[si], ref.data);
    if (editing) {
      expectEqualInts(`${run} sampled s${si}`, r.sampled![si], fc.ref(`${run}_sampled_s${si}`).data);
      expectEqualInts(`${run} keep s${si}`, r.keep![si], Array.from(fc.ref(`${run}_force_s${si}`).data));
    }
    const lg = expectClose(
      `${run} logits s${si}`,
      { data: r.logits![si], shape: [r.labels.length, pn * pn, V] },
      fc.ref(`${run}_logits_s${si}`),
      ATOL,
    );
    lines.push(`logits s${si} maxAbs=${lg.maxAbs.toExponential(2)}`);
  });
  const f = expectClose(`${run} fhat`, { data: r.fHat.dataSync(), shape: r.fHat.shape }, fc.ref(`${run}_fhat`), ATOL);
  const img = r.images!;
  const im = expectClose(`${run} img`, { data: img.dataSync(), shape: img.shape }, fc.ref(`${run}_img`), ATOL);
  lines.push(`fhat maxAbs=${f.maxAbs.toExponential(2)} img maxAbs=${im.maxAbs.toExponential(2)}`);
  return lines;
}

// cpu only where the case's VQVAE is small enough for it (the reason is logged)
for (const backend of caseBackends(fc, ['cpu', 'wasm'], 'generation parity')) {
  describe(`parity on ${backend}`, () => {
    let models: Models | null = null;
    let inputTokens: Int32Array[] | null = null;
    const get = async () => {
      if (!models) {
        const why = await useBackend(backend);
        if (why) throw new Error(`backend ${backend} unavailable: ${why}`);
        models = await loadModels(fc);
      }
      return models;
    };
    afterAll(() => {
      models?.dispose();
      models = null;
    });

    it('the case has generation and edit runs', () => {
      expect(genRuns.length).toBeGreaterThan(0);
    });

    for (const run of genRuns) {
      it(`${run}: tokens identical, logits / f_hat / image within ${ATOL}`, async () => {
        const { vae, model } = await get();
        const c = parseRunCall(fc, fc.refs.tensors[`${run}_img`].call);
        const before = tf.memory().numTensors;
        const r = await generate(vae, model, {
          labels: c.labels,
          cfg: c.cfg,
          topK: c.topK,
          topP: c.topP,
          seed: c.seed,
          moreSmooth: c.moreSmooth,
          returnLogits: true,
        });
        try {
          const lines = checkRun(run, r, false);
          console.log(`[${backend}] ${run}: ${lines.join('; ')}`);
        } finally {
          tf.dispose([r.images!, r.fHat]);
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    for (const run of editRuns) {
      it(`${run}: keep masks, sampled and effective tokens identical, logits / f_hat / image within ${ATOL}`, async () => {
        const { vae, model } = await get();
        const c = parseRunCall(fc, fc.refs.tensors[`${run}_img`].call);
        expect(c.mask).toBeTruthy();
        const img = tf.tensor4d(fc.ref('img').data as Float32Array, fc.ref('img').shape as [number, number, number, number]);
        const before = tf.memory().numTensors;
        // The first edit run tokenises the image itself; later runs reuse its input tokens
        // (the official runs pass input_img_tokens=vae.img_to_idxBl(img)), which saves an
        // encoder pass on the slow cpu backend.
        const source = inputTokens ? { inputTokens } : { image: img };
        const r = await edit(vae, model, {
          labels: c.labels,
          cfg: c.cfg,
          topK: c.topK,
          topP: c.topP,
          seed: c.seed,
          moreSmooth: c.moreSmooth,
          returnLogits: true,
          ...source,
          mask: c.mask!,
        });
        inputTokens ??= r.inputTokens!;
        // the input's tokens are the official vae.img_to_idxBl(img)
        if (fc.hasRef('idx_s0'))
          patchNums.forEach((_, si) => expectEqualInts(`input tokens s${si}`, inputTokens![si], fc.ref(`idx_s${si}`).data));
        try {
          const lines = checkRun(run, r, true);
          console.log(`[${backend}] ${run}: ${lines.join('; ')}`);
        } finally {
          tf.dispose([r.images!, r.fHat]);
        }
        expect(tf.memory().numTensors).toBe(before);
        img.dispose();
      });
    }
  });
}
