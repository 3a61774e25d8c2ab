/**
 * Zero-shot editing, as the official `autoregressive_infer_cfg_with_mask`
 * (`demo_zero_shot_edit.ipynb`): the source image is tokenised at every scale; where the mask
 * (resized per scale, see mask.ts) keeps the source, its tokens replace the sampled ones —
 * `h = gt·mask + h·(1 − mask)` before the f_hat update. This module resolves the source and
 * the mask and gives the sampler loop its per-scale hook.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError, ValueError } from '@var/core';
import { embedTokens } from './embed.js';
import type { ScaleHook } from './infer.js';
import { editMaskData, maskFromArray, normalizeMask, scaleKeepMasks, type ImageLikeMask } from './mask.js';
import type { GenerateOptions, Resolved } from './options.js';
import type { SamplerVAR, SamplerVQVAE } from './types.js';

/** A rectangle edit region (fractions of the image), as the official `get_edit_mask`. */
export interface EditRect {
  y0: number;
  x0: number;
  y1: number;
  x1: number;
  /** true (default): generate inside the rectangle (in-painting); false: generate outside (out-painting). */
  inpainting?: boolean;
}

/** Options of {@link edit} / {@link editStream}. */
export interface EditOptions extends GenerateOptions {
  /** The image to edit, (B or 1, C, H, W) in [-1, 1] with the tokenizer's C (1 or 3); tokenised with the VQVAE. */
  image?: tf.Tensor4D;
  /** Or its tokens per scale, (B or 1, pn·pn) each (Int32Array or int32 Tensor2D). */
  inputTokens?: Array<Int32Array | tf.Tensor2D>;
  /**
   * Where to keep the input (1 = keep the input's token, 0 = generate): a rectangle (see
   * {@link EditRect}); a mask tensor (H, W), (1, 1, H, W) or (B, 1, H, W) in [0, 1]; an array of
   * rows in [0, 1]; or an image `{ width, height, data }` (e.g. `ImageData`; first channel / 255).
   */
  mask: EditRect | tf.Tensor | number[][] | ImageLikeMask;
}

/** The source's tokens and the keep masks, per scale, (B, pn·pn) each. */
export interface ResolvedEdit {
  keep: Uint8Array[];
  gt: Int32Array[];
}

/** Tokenise the source (or check its tokens) and resize the mask to every scale. */
export async function resolveEdit(vae: SamplerVQVAE, model: SamplerVAR, r: Resolved, o: EditOptions): Promise<ResolvedEdit> {
  const { patchNums } = model.config;
  const B = r.B;
  // input tokens
  let gtRaw: Int32Array[];
  let nIn: number;
  if (o.inputTokens) {
    if (o.image) throw new ValueError('give either image or inputTokens, not both');
    if (!Array.isArray(o.inputTokens) || o.inputTokens.length !== patchNums.length) {
      throw new ShapeError(
        `inputTokens must have one entry per scale (${patchNums.length}); got ${Array.isArray(o.inputTokens) ? o.inputTokens.length : typeof o.inputTokens}`,
      );
    }
    nIn = -1;
    gtRaw = [];
    for (let si = 0; si < patchNums.length; si++) {
      const t = o.inputTokens[si];
      const l = patchNums[si] ** 2;
      let d: Int32Array;
      if (t instanceof Int32Array) d = t;
      else if (t && typeof (t as tf.Tensor).dataSync === 'function') {
        const tt = t as tf.Tensor2D;
        if (tt.rank !== 2 || tt.shape[1] !== l) throw new ShapeError(`inputTokens[${si}] must be (B, ${l}); got (${tt.shape.join(', ')})`);
        d = Int32Array.from(await tt.data());
      } else throw new ValueError(`inputTokens[${si}] must be an Int32Array or a Tensor2D`);
      if (d.length % l !== 0)
        throw new ShapeError(`inputTokens[${si}] has ${d.length} values, not a multiple of ${l} (pn=${patchNums[si]})`);
      const n = d.length / l;
      if (nIn === -1) nIn = n;
      else if (n !== nIn) throw new ShapeError(`inputTokens batch differs between scales (${nIn} vs ${n})`);
      for (const v of d) {
        if (!Number.isInteger(v) || v < 0 || v >= model.config.vocabSize) {
          throw new ValueError(`inputTokens[${si}] holds ${v}, outside [0, ${model.config.vocabSize})`);
        }
      }
      gtRaw.push(d);
    }
  } else if (o.image) {
    const img = o.image;
    const side = patchNums[patchNums.length - 1] * vae.downsample;
    const C = vae.config?.inChannels ?? 3;
    if (img.rank !== 4 || img.shape[1] !== C || img.shape[2] !== side || img.shape[3] !== side) {
      throw new ShapeError(
        `image must be (B, ${C}, ${side}, ${side}) in [-1, 1] (the tokenizer takes ${C} channel${C === 1 ? '' : 's'}); got (${img.shape.join(', ')})`,
      );
    }
    nIn = img.shape[0];
    const idx = vae.imgToIdx(img);
    try {
      gtRaw = await Promise.all(idx.map(async (t) => Int32Array.from(await t.data())));
    } finally {
      tf.dispose(idx);
    }
  } else {
    throw new ValueError('edit needs the image to edit (image) or its tokens (inputTokens)');
  }
  if (nIn !== B && nIn !== 1) {
    throw new ShapeError(`the input has batch ${nIn} but there are ${B} labels; give ${B} images (or 1 to share)`);
  }
  const gt = gtRaw.map((d, si) => {
    if (nIn === B) return d;
    const l = patchNums[si] ** 2;
    const out = new Int32Array(B * l);
    for (let b = 0; b < B; b++) out.set(d, b * l);
    return out;
  });
  // mask
  const m = o.mask;
  let mask4: tf.Tensor4D;
  if (m && typeof (m as tf.Tensor).dataSync === 'function') {
    mask4 = await normalizeMask(m as tf.Tensor, B);
  } else if (m && typeof m === 'object' && (Array.isArray(m) || 'data' in m)) {
    const t = maskFromArray(m as ImageLikeMask | number[][]);
    try {
      mask4 = await normalizeMask(t, B);
    } finally {
      t.dispose();
    }
  } else if (m && typeof m === 'object') {
    const rect = m as EditRect;
    const P = patchNums[patchNums.length - 1];
    const data = editMaskData(patchNums, rect.y0, rect.x0, rect.y1, rect.x1, rect.inpainting ?? true);
    mask4 = tf.tidy(() => tf.tile(tf.tensor4d(data, [1, 1, P, P]), [B, 1, 1, 1]) as tf.Tensor4D);
  } else {
    throw new ValueError('edit needs a mask: a rectangle {y0, x0, y1, x1, inpainting}, a mask tensor, an array of rows or an image');
  }
  try {
    return { keep: await scaleKeepMasks(mask4, patchNums), gt };
  } finally {
    mask4.dispose();
  }
}

/** The per-scale hook of an edit: force the source's tokens where the mask keeps them. */
export function editHook(vae: SamplerVQVAE, e: ResolvedEdit, B: number, patchNums: readonly number[]): ScaleHook {
  const sampledAll: Int32Array[] = [];
  return {
    tokens(si, sampled) {
      const keep = e.keep[si];
      const gt = e.gt[si];
      const out = new Int32Array(sampled.length);
      for (let i = 0; i < sampled.length; i++) out[i] = keep[i] ? gt[i] : sampled[i];
      sampledAll.push(sampled);
      return out;
    },
    embedding(si, h) {
      const pn = patchNums[si];
      const gtH = embedTokens(vae.quantizer, e.gt[si], B, pn);
      const k = tf.tensor4d(Float32Array.from(e.keep[si]), [B, 1, pn, pn]);
      return tf.add(tf.mul(gtH, k), tf.mul(h, tf.sub(1, k))) as tf.Tensor4D;
    },
    event(si, ev) {
      ev.sampled = sampledAll[si];
      ev.keep = e.keep[si];
    },
    result(res) {
      res.sampled = sampledAll;
      res.keep = e.keep;
      res.inputTokens = e.gt;
    },
  };
}
