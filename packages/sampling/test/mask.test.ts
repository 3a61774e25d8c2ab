import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ShapeError, ValueError } from '@var/core';
import { expectEqualInts, loadFixtureCase } from '@var/test-helpers';
import { editMaskData, getEditMask, normalizeMask, roundHalfEven, scaleKeepMasks } from '../src/mask.js';

const fc = loadFixtureCase();
const patchNums: number[] = fc.config.VAR.patch_nums;

/** Parse the arguments of a `get_edit_mask(...)` call recorded in refs.json. */
function parseMaskCall(call: string) {
  const m = /get_edit_mask\(var\.patch_nums,\s*([-\d.e]+),\s*([-\d.e]+),\s*([-\d.e]+),\s*([-\d.e]+),.*inpainting=(True|False)\)/.exec(call);
  if (!m) throw new Error(`cannot parse get_edit_mask call: ${call}`);
  return { y0: +m[1], x0: +m[2], y1: +m[3], x1: +m[4], inpainting: m[5] === 'True' };
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('roundHalfEven (Python round)', () => {
  it('rounds ties to even', () => {
    expect([0.5, 1.5, 2.5, 3.5, -0.5, -1.5].map((x) => roundHalfEven(x) + 0)).toEqual([0, 2, 2, 4, 0, -2]);
    expect([0.49, 0.51, 2.4999, 2.5001, 7].map(roundHalfEven)).toEqual([0, 1, 2, 3, 7]);
  });
});

describe('getEditMask parity (mask_probe_* and edit_*_mask)', () => {
  const names = Object.keys(fc.refs.tensors).filter((n) => /^mask_probe_|^edit_.*_mask$/.test(n));
  // Cases of the official generator carry edit runs and mask probes (refs.json setup.edit_cell);
  // cases of tooling/fixture-cases/make_case.py have no edit runs, so there is nothing to compare.
  const hasEdits = !!fc.refs.setup?.edit_cell;
  it('the case has mask references (when it has edit runs)', (ctx) => {
    if (!hasEdits && names.length === 0) {
      console.log(
        `getEditMask parity: case ${fc.dir} has no edit runs (refs.json setup: ${JSON.stringify(fc.refs.setup?.['edit runs'] ?? 'none')})`,
      );
      return ctx.skip();
    }
    expect(names.length).toBeGreaterThan(0);
  });
  for (const name of names) {
    it(name, () => {
      const a = parseMaskCall(fc.refs.tensors[name].call);
      const ref = fc.ref(name);
      const t = getEditMask(patchNums, a.y0, a.x0, a.y1, a.x1, a.inpainting);
      expect(t.shape).toEqual(ref.shape);
      expect(Array.from(t.dataSync())).toEqual(Array.from(ref.data));
      t.dispose();
    });
  }
  it('rejects coordinates outside [0, 1]', () => {
    expect(() => editMaskData(patchNums, -0.1, 0, 1, 1)).toThrow(ValueError);
    expect(() => editMaskData(patchNums, 0, 0, 1, NaN)).toThrow(ValueError);
  });
});

describe('per-scale keep masks (replace_embedding) parity', () => {
  for (const kind of ['inpaint', 'outpaint']) {
    const maskName = `edit_${kind}_mask`;
    if (!fc.hasRef(maskName)) continue;
    it(kind, async () => {
      const ref = fc.ref(maskName);
      const B = fc.ref(`edit_${kind}_force_s0`).shape[0];
      const before = tf.memory().numTensors;
      const m = tf.tensor2d(ref.data as Float32Array, ref.shape as [number, number]);
      const m4 = await normalizeMask(m, B);
      const keep = await scaleKeepMasks(m4, patchNums);
      m.dispose();
      m4.dispose();
      expect(tf.memory().numTensors).toBe(before);
      patchNums.forEach((pn, si) => {
        const f = fc.ref(`edit_${kind}_force_s${si}`);
        expect(f.shape).toEqual([B, 1, pn, pn]);
        expectEqualInts(`${kind} force s${si}`, keep[si], Array.from(f.data as Float32Array));
      });
    });
  }
  it('a (B,1,H,W) mask image at another resolution is bilinearly resized', async () => {
    // 2x upsampled version of the last-scale mask keeps the same block structure
    const P = patchNums[patchNums.length - 1];
    const base = editMaskData(patchNums, 0.25, 0.25, 0.75, 0.75, true);
    const big = new Float32Array(4 * P * P);
    for (let r = 0; r < 2 * P; r++) for (let c = 0; c < 2 * P; c++) big[r * 2 * P + c] = base[(r >> 1) * P + (c >> 1)];
    const m = tf.tensor4d(big, [1, 1, 2 * P, 2 * P]);
    const m4 = await normalizeMask(m, 2);
    expect(m4.shape).toEqual([2, 1, 2 * P, 2 * P]);
    const keep = await scaleKeepMasks(m4, patchNums);
    const last = keep[patchNums.length - 1];
    // at the last scale, area-like agreement with the base mask (bilinear of a 2x nearest upsample)
    for (let i = 0; i < P * P; i++) expect(last[i]).toBe(base[i] > 0.5 ? 1 : 0);
    tf.dispose([m, m4]);
  });
  it('rejects masks of the wrong shape or range', async () => {
    const bad3 = tf.zeros([1, 4, 4]);
    const badB = tf.zeros([3, 1, 4, 4]);
    const badC = tf.zeros([1, 2, 4, 4]);
    const badV = tf.fill([4, 4], 1.5);
    await expect(normalizeMask(bad3, 2)).rejects.toThrow(ShapeError);
    await expect(normalizeMask(badB, 2)).rejects.toThrow(ShapeError);
    await expect(normalizeMask(badC, 2)).rejects.toThrow(ShapeError);
    await expect(normalizeMask(badV, 2)).rejects.toThrow(ValueError);
    tf.dispose([bad3, badB, badC, badV]);
  });
});
