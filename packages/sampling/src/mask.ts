/**
 * Edit masks for zero-shot editing (in-painting, out-painting, class-conditional editing),
 * as in the official `demo_zero_shot_edit.ipynb` (`get_edit_mask`, `replace_embedding`).
 *
 * A mask value of 1 means "keep the input image's token", 0 means "generate".
 */
import * as tf from '@tensorflow/tfjs-core';
import { interpolate, ShapeError, ValueError } from '@var/core';

/** Python's `round()` for a float: nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) throw new ValueError(`cannot round ${x}`);
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function checkPatchNums(patchNums: readonly number[]): number {
  if (!Array.isArray(patchNums) || patchNums.length === 0 || patchNums.some((p) => !Number.isInteger(p) || p <= 0)) {
    throw new ValueError(`patchNums must be a non-empty list of positive integers; got ${JSON.stringify(patchNums)}`);
  }
  return patchNums[patchNums.length - 1];
}

/**
 * The (P, P) edit mask of the official `get_edit_mask` (P = last patch number): the
 * rectangle rows `round(y0·P):round(y1·P)`, cols `round(x0·P):round(x1·P)` (Python rounding,
 * ties to even) is 1 and the rest 0; with `inpainting` (default) the mask is inverted so the
 * rectangle is generated and the rest kept. Coordinates are fractions of the image in [0, 1].
 * Returns a float32 Tensor2D the caller disposes.
 */
export function getEditMask(patchNums: readonly number[], y0: number, x0: number, y1: number, x1: number, inpainting = true): tf.Tensor2D {
  const data = editMaskData(patchNums, y0, x0, y1, x1, inpainting);
  const P = checkPatchNums(patchNums);
  return tf.tensor2d(data, [P, P], 'float32');
}

/** {@link getEditMask} as a plain row-major Float32Array of P·P values. */
export function editMaskData(
  patchNums: readonly number[],
  y0: number,
  x0: number,
  y1: number,
  x1: number,
  inpainting = true,
): Float32Array {
  const P = checkPatchNums(patchNums);
  const coords = { y0, x0, y1, x1 };
  for (const [k, v] of Object.entries(coords)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
      throw new ValueError(`edit rectangle ${k} must be a fraction in [0, 1]; got ${String(v)}`);
    }
  }
  const r0 = roundHalfEven(y0 * P),
    r1 = roundHalfEven(y1 * P);
  const c0 = roundHalfEven(x0 * P),
    c1 = roundHalfEven(x1 * P);
  const m = new Float32Array(P * P);
  for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) m[r * P + c] = 1;
  if (inpainting) for (let i = 0; i < m.length; i++) m[i] = 1 - m[i];
  return m;
}

/**
 * Normalise a user mask to a float32 (B, 1, H, W) tensor: accepts (H, W), (1, 1, H, W) or
 * (B, 1, H, W) with values in [0, 1]. Throws ShapeError / ValueError. The result is a new
 * tensor (caller disposes).
 */
export async function normalizeMask(mask: tf.Tensor, B: number): Promise<tf.Tensor4D> {
  const s = mask.shape;
  let ok = false;
  if (s.length === 2) ok = s[0] > 0 && s[1] > 0;
  else if (s.length === 4) ok = (s[0] === 1 || s[0] === B) && s[1] === 1 && s[2] > 0 && s[3] > 0;
  if (!ok) {
    throw new ShapeError(`edit mask must have shape (H, W), (1, 1, H, W) or (${B}, 1, H, W); got (${s.join(', ')})`);
  }
  const vals = await mask.data();
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    if (!(v >= 0 && v <= 1)) throw new ValueError(`edit mask values must be in [0, 1]; found ${v} at flat index ${i}`);
  }
  return tf.tidy(() => {
    const m4 = tf.cast(s.length === 2 ? tf.reshape(mask, [1, 1, s[0], s[1]]) : mask, 'float32') as tf.Tensor4D;
    return m4.shape[0] === B ? tf.clone(m4) : (tf.tile(m4, [B, 1, 1, 1]) as tf.Tensor4D);
  });
}

/**
 * Per-scale keep masks of the official `replace_embedding`: the (B, 1, H, W) mask is
 * bilinearly resized to pn×pn (align_corners=False) and kept where the value is > 0.5
 * (strictly); every scale with pn² <= 3 is fully kept. Returns, per scale, a Uint8Array of
 * B·pn·pn (1 = take the input token, 0 = sample), row-major.
 */
export async function scaleKeepMasks(mask4: tf.Tensor4D, patchNums: readonly number[]): Promise<Uint8Array[]> {
  checkPatchNums(patchNums);
  const B = mask4.shape[0];
  const out: Uint8Array[] = [];
  for (const pn of patchNums) {
    const keep = new Uint8Array(B * pn * pn);
    out.push(keep);
    if (pn * pn <= 3) {
      keep.fill(1);
      continue;
    }
    const r = tf.tidy(() => interpolate(mask4, [pn, pn], 'bilinear'));
    let v: ArrayLike<number>;
    try {
      v = await r.data();
    } finally {
      r.dispose();
    }
    for (let i = 0; i < keep.length; i++) keep[i] = v[i] > 0.5 ? 1 : 0;
  }
  return out;
}

/** An image-like mask (e.g. a browser `ImageData`): RGBA or single-channel bytes, row-major. */
export interface ImageLikeMask {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/**
 * A (H, W) float32 mask tensor from an image (`ImageData`-like: RGBA or one byte per pixel,
 * the first channel is used, 0..255 → 0..1) or from a nested array of rows of numbers in
 * [0, 1]. The caller disposes the tensor.
 */
export function maskFromArray(mask: ImageLikeMask | ArrayLike<ArrayLike<number>>): tf.Tensor2D {
  if (Array.isArray(mask)) {
    const H = mask.length;
    const W = H ? (mask[0] as ArrayLike<number>).length : 0;
    if (!H || !W || mask.some((row) => !row || (row as ArrayLike<number>).length !== W)) {
      throw new ShapeError(`a mask array must be a non-empty list of rows of equal length; got ${H} rows`);
    }
    const d = new Float32Array(H * W);
    mask.forEach((row, r) => {
      for (let c = 0; c < W; c++) d[r * W + c] = Number((row as ArrayLike<number>)[c]);
    });
    return tf.tensor2d(d, [H, W]);
  }
  const im = mask as ImageLikeMask;
  if (!im || !Number.isInteger(im.width) || !Number.isInteger(im.height) || im.width <= 0 || im.height <= 0 || !im.data) {
    throw new ValueError('a mask must be a tensor, a rectangle, an array of rows or an image {width, height, data}');
  }
  const n = im.width * im.height;
  const ch = im.data.length / n;
  if (ch !== 1 && ch !== 4) {
    throw new ShapeError(`a mask image of ${im.width}x${im.height} must have ${n} (gray) or ${4 * n} (RGBA) values; got ${im.data.length}`);
  }
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = im.data[i * ch] / 255;
  return tf.tensor2d(d, [im.height, im.width]);
}
