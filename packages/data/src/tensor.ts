/**
 * Images ⇄ tensors in the layout the models take: NCHW float32 in [-1, 1], as the
 * official VAR code (`ToTensor()` then `x*2 - 1`), and back with torchvision's
 * `save_image` rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { interpolationMatrix, NonFiniteError, ShapeError, ValueError, type ResizeMode } from '@var/core';
import { assertRawImage, convertChannels, type Background, type RawImage } from './codec.js';

/** Output size: `[height, width]`, or one number (see {@link ImageToTensorOptions.size}). */
export type Size = number | readonly [number, number];

export interface ImageToTensorOptions {
  /** 1 (gray) or 3 (RGB) channels in the tensor. */
  channels: 1 | 3;
  /**
   * Output size. `[h, w]` resizes to exactly that (aspect ratio not kept). A number `n`
   * gives n×n: square images are resized, others have their shorter side resized to `n`
   * (longer side `floor(n·long/short)`, as torchvision's `Resize(n)`) then are
   * center-cropped to n×n. Omitted: the image's own size.
   */
  size?: Size;
  /**
   * Resize mode, with PyTorch `F.interpolate` semantics (the weights of `interpolate` in
   * @var/core, applied in JS in float64). Default: `'area'` when both sides shrink, else
   * `'bilinear'`. Results are clamped to [-1, 1].
   */
  mode?: ResizeMode;
  /** Background for images with alpha (default white, 255); `null` drops alpha as is. */
  background?: Background | null;
}

function assertChannels13(c: unknown, where: string): asserts c is 1 | 3 {
  if (c !== 1 && c !== 3) {
    throw new ShapeError(`${where}: channels must be 1 (gray) or 3 (RGB); got ${JSON.stringify(c)}`);
  }
}

function assertSizeOpt(size: Size | undefined, where: string): void {
  if (size === undefined) return;
  const ok = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
  if (typeof size === 'number' ? !ok(size) : !Array.isArray(size) || size.length !== 2 || !ok(size[0]) || !ok(size[1])) {
    throw new ShapeError(`${where}: size must be a positive integer or [height, width] of positive integers; got ${JSON.stringify(size)}`);
  }
}

/** The resize ([h, w]) and crop ([h, w]) that `size` asks of an h×w image. */
export function plannedGeometry(h: number, w: number, size: Size | undefined): { resize: [number, number]; crop: [number, number] } {
  if (size === undefined) return { resize: [h, w], crop: [h, w] };
  if (typeof size !== 'number') return { resize: [size[0], size[1]], crop: [size[0], size[1]] };
  if (h === w) return { resize: [size, size], crop: [size, size] };
  const resize: [number, number] = h < w ? [size, Math.floor((size * w) / h)] : [Math.floor((size * h) / w), size];
  return { resize, crop: [size, size] };
}

/** Default resize mode: area averaging for a downscale, bilinear otherwise. */
export function defaultResizeMode(inH: number, inW: number, outH: number, outW: number): ResizeMode {
  return outH <= inH && outW <= inW ? 'area' : 'bilinear';
}

/** Pixels → NCHW float32 in [-1, 1] (`f32(v/255)*2 - 1`), written at `offset` of `out`. */
function fillPm1(img: RawImage, out: Float32Array, offset: number): void {
  const { width: w, height: h, channels: c, data } = img;
  const plane = w * h;
  for (let ch = 0; ch < c; ch++) {
    const base = offset + ch * plane;
    for (let p = 0; p < plane; p++) out[base + p] = Math.fround(data[p * c + ch] / 255) * 2 - 1;
  }
}

const tapCache = new Map<string, { idx: Int32Array[]; w: Float64Array[] }>();

/** Non-zero weights of each output sample of a 1-D resize (core's `interpolationMatrix`). */
function taps(inSize: number, outSize: number, mode: ResizeMode): { idx: Int32Array[]; w: Float64Array[] } {
  const key = `${inSize},${outSize},${mode}`;
  let t = tapCache.get(key);
  if (!t) {
    const m = interpolationMatrix(inSize, outSize, mode);
    const idx: Int32Array[] = [];
    const w: Float64Array[] = [];
    for (let o = 0; o < outSize; o++) {
      const row = m.subarray(o * inSize, (o + 1) * inSize);
      const nz: number[] = [];
      row.forEach((v, i) => {
        if (v !== 0) nz.push(i);
      });
      idx.push(Int32Array.from(nz));
      w.push(Float64Array.from(nz, (i) => row[i]));
    }
    t = { idx, w };
    if (tapCache.size > 64) tapCache.clear();
    tapCache.set(key, t);
  }
  return t;
}

/**
 * Resize `planes` row-major H×W float planes to oh×ow with the weights of `interpolate`
 * (PyTorch `F.interpolate` semantics, core's `interpolationMatrix`), separably (along W,
 * then H), in JS, accumulating in float64; then center-crop to ch×cw and optionally clamp
 * to [-1, 1]. Much faster than a matMul on the CPU backend for the small images of a data
 * pipeline, and no tensor is made.
 */
function resizeCropPlanes(
  src: Float32Array,
  planes: number,
  H: number,
  W: number,
  [oh, ow]: [number, number],
  [ch, cw]: [number, number],
  mode: ResizeMode,
  clamp: boolean,
): Float32Array {
  const tw = ow === W ? null : taps(W, ow, mode);
  const th = oh === H ? null : taps(H, oh, mode);
  const tmp = new Float64Array(planes * H * ow);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < H; y++) {
      const rowIn = (p * H + y) * W;
      const rowOut = (p * H + y) * ow;
      for (let x = 0; x < ow; x++) {
        if (!tw) {
          tmp[rowOut + x] = src[rowIn + x];
          continue;
        }
        const ix = tw.idx[x];
        const wx = tw.w[x];
        let acc = 0;
        for (let k = 0; k < ix.length; k++) acc += wx[k] * src[rowIn + ix[k]];
        tmp[rowOut + x] = acc;
      }
    }
  }
  const top = roundHalfEven((oh - ch) / 2);
  const left = roundHalfEven((ow - cw) / 2);
  const out = new Float32Array(planes * ch * cw);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < ch; y++) {
      const oy = y + top;
      for (let x = 0; x < cw; x++) {
        const ox = x + left;
        let v: number;
        if (!th) v = tmp[(p * H + oy) * ow + ox];
        else {
          const iy = th.idx[oy];
          const wy = th.w[oy];
          v = 0;
          for (let k = 0; k < iy.length; k++) v += wy[k] * tmp[(p * H + iy[k]) * ow + ox];
        }
        out[(p * ch + y) * cw + x] = clamp ? (v < -1 ? -1 : Math.min(v, 1)) : v;
      }
    }
  }
  return out;
}

/**
 * Center-crop (B, C, H, W) to `[h, w]` at offsets `round((H−h)/2)`, `round((W−w)/2)` with
 * Python's round-half-to-even, exactly as torchvision's CenterCrop.
 * @throws ShapeError when the crop is larger than the tensor.
 */
export function centerCrop(x: tf.Tensor4D, size: Size): tf.Tensor4D {
  assertRank4(x, 'centerCrop');
  assertSizeOpt(size, 'centerCrop');
  const [ch, cw] = typeof size === 'number' ? [size, size] : size;
  const [B, C, H, W] = x.shape;
  if (ch > H || cw > W) throw new ShapeError(`centerCrop: crop ${ch}x${cw} is larger than the input ${H}x${W}`);
  const top = roundHalfEven((H - ch) / 2);
  const left = roundHalfEven((W - cw) / 2);
  return tf.slice(x, [0, 0, top, left], [B, C, ch, cw]);
}

/** Python's `round` for halves: to the even neighbour (round(0.5) = 0, round(1.5) = 2). */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export function assertRank4(x: tf.Tensor, where: string): asserts x is tf.Tensor4D {
  if (!(x instanceof tf.Tensor)) {
    throw new ShapeError(`${where}: expected a tf.Tensor of shape (B, C, H, W); got ${x === null ? 'null' : typeof x}`);
  }
  if (x.rank !== 4) {
    throw new ShapeError(`${where}: expected rank 4 (B, C, H, W); got rank ${x.rank}, shape [${x.shape.join(', ')}]`);
  }
}

/**
 * One image → a (1, C, H, W) float32 tensor in [-1, 1] (NCHW, as the official code).
 * Alpha is composited over `background`, channels converted (gray ⇄ RGB), then the image
 * is resized/cropped to `size`. The caller owns (and disposes) the result.
 *
 * @throws ShapeError for a malformed image, a channel count other than 1 or 3, or a bad size.
 */
export function imageToTensor(img: RawImage, options: ImageToTensorOptions): tf.Tensor4D {
  return imagesToTensor([img], options);
}

/**
 * Several images → one (B, C, H, W) float32 tensor in [-1, 1]; each image is treated as
 * by {@link imageToTensor} (images of different sizes need `size`).
 * @throws ShapeError for malformed images, no images, or mixed sizes without `size`.
 */
export function imagesToTensor(imgs: readonly RawImage[], options: ImageToTensorOptions): tf.Tensor4D {
  return imagesToTensorFlipped(imgs, options, undefined);
}

/** Mirror each row of `planes` H×W planes in place. */
function flipRows(buf: Float32Array, planes: number, H: number, W: number): void {
  for (let r = 0; r < planes * H; r++) buf.subarray(r * W, (r + 1) * W).reverse();
}

/**
 * {@link imagesToTensor}, mirroring image b left–right (after resizing) where `flips[b]`;
 * used by `batches`, whose flips are thus done in JS rather than with tensor ops.
 * @internal
 */
export function imagesToTensorFlipped(
  imgs: readonly RawImage[],
  options: ImageToTensorOptions,
  flips: readonly boolean[] | undefined,
): tf.Tensor4D {
  if (!Array.isArray(imgs) || imgs.length === 0) throw new ShapeError('imagesToTensor: expected a non-empty array of images');
  if (options === null || typeof options !== 'object') {
    throw new ValueError('imageToTensor: options {channels: 1 | 3, size?, mode?, background?} are required');
  }
  const C = options.channels;
  assertChannels13(C, 'imageToTensor');
  assertSizeOpt(options.size, 'imageToTensor');
  imgs.forEach((im, i) => assertRawImage(im, `imageToTensor (image ${i})`));
  const conv = imgs.map((im) => convertChannels(im, C, { background: options.background }));
  const h0 = conv[0].height;
  const w0 = conv[0].width;
  if (options.size === undefined && conv.some((im) => im.height !== h0 || im.width !== w0)) {
    throw new ShapeError(
      `imagesToTensor: images have different sizes (${conv
        .map((im) => `${im.width}x${im.height}`)
        .slice(0, 4)
        .join(', ')}, …); pass options.size`,
    );
  }
  const modes = ['bilinear', 'bicubic', 'area'];
  if (options.mode !== undefined && !modes.includes(options.mode)) {
    throw new ValueError(`imageToTensor: mode must be one of ${modes.join(', ')}; got ${JSON.stringify(options.mode)}`);
  }
  const B = conv.length;
  const [outH, outW] = plannedGeometry(h0, w0, options.size).crop;
  const plane = outH * outW;
  const out = new Float32Array(B * C * plane);
  conv.forEach((im, b) => {
    const { resize, crop } = plannedGeometry(im.height, im.width, options.size);
    const buf = new Float32Array(C * im.height * im.width);
    fillPm1(im, buf, 0);
    let res: Float32Array = buf;
    if (resize[0] !== im.height || resize[1] !== im.width || crop[0] !== im.height || crop[1] !== im.width) {
      const mode = options.mode ?? defaultResizeMode(im.height, im.width, resize[0], resize[1]);
      res = resizeCropPlanes(buf, C, im.height, im.width, resize, crop, mode, true);
    }
    if (flips?.[b]) flipRows(res, C, outH, outW);
    out.set(res, b * C * plane);
  });
  return tf.tensor4d(out, [B, C, outH, outW]);
}

export interface TensorToImagesOptions {
  /**
   * Pixel layout of the result: `'native'` (default: 1 channel → gray, 3 → RGB),
   * `'rgb'` (gray replicated) or `'rgba'` (alpha 255).
   */
  format?: 'native' | 'rgb' | 'rgba';
  /**
   * Value range of the tensor: `'signed'` (default), [-1, 1] as the models take images, or
   * `'unit'`, [0, 1] as `generate` returns them (the official `(img + 1) / 2`).
   */
  range?: 'signed' | 'unit';
}

/**
 * A (B, C, H, W) tensor in [-1, 1] (C = 1 or 3) → B images. Each value becomes
 * `clamp(floor(((x+1)/2)·255 + 0.5), 0, 255)` in float32 arithmetic, as VAR's
 * denormalisation followed by torchvision's `save_image`; with `range: 'unit'` (values in
 * [0, 1], as `generate` returns) `clamp(floor(x·255 + 0.5), 0, 255)`. This is the one
 * tensor → pixels conversion of var.ts (pipeline, CLI and web demo). Does not dispose `t`.
 *
 * @throws ShapeError for a rank other than 4 or C not 1/3; ValueError for a non-float
 * tensor; NonFiniteError when it contains NaN/±Inf.
 */
export async function tensorToImages(t: tf.Tensor4D, options: TensorToImagesOptions = {}): Promise<RawImage[]> {
  assertRank4(t, 'tensorToImages');
  const [B, C, H, W] = t.shape;
  if (C !== 1 && C !== 3) {
    throw new ShapeError(`tensorToImages: expected 1 or 3 channels (B, C, H, W); got C=${C}, shape [${t.shape.join(', ')}]`);
  }
  if (t.dtype !== 'float32') throw new ValueError(`tensorToImages: expected a float32 tensor in [-1, 1]; got ${t.dtype}`);
  const format = options.format ?? 'native';
  if (format !== 'native' && format !== 'rgb' && format !== 'rgba') {
    throw new ValueError(`tensorToImages: format must be 'native', 'rgb' or 'rgba'; got ${JSON.stringify(format)}`);
  }
  const range = options.range ?? 'signed';
  if (range !== 'signed' && range !== 'unit') {
    throw new ValueError(`tensorToImages: range must be 'signed' ([-1, 1]) or 'unit' ([0, 1]); got ${JSON.stringify(range)}`);
  }
  const unit = range === 'unit';
  const src = (await t.data()) as Float32Array;
  const plane = H * W;
  const outC = format === 'native' ? C : format === 'rgb' ? 3 : 4;
  const f = Math.fround;
  const images: RawImage[] = [];
  for (let b = 0; b < B; b++) {
    const data = new Uint8Array(plane * outC);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < Math.min(outC, 3); c++) {
        const x = src[(b * C + (C === 1 ? 0 : c)) * plane + p];
        if (!Number.isFinite(x)) {
          throw new NonFiniteError(
            `tensorToImages: value ${x} at [${b}, ${C === 1 ? 0 : c}, ${Math.floor(p / W)}, ${p % W}]; expected finite values in ${unit ? '[0, 1]' : '[-1, 1]'}`,
          );
        }
        const v = unit ? f(f(x * 255) + 0.5) : f(f(f(f(x + 1) * 0.5) * 255) + 0.5);
        data[p * outC + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v);
      }
      if (outC === 4) data[p * 4 + 3] = 255;
    }
    images.push({ width: W, height: H, channels: outC as 1 | 3 | 4, data });
  }
  return images;
}
