/**
 * Images ⇄ tensors in the layout the models take: NCHW float32 in [-1, 1], as the
 * official VAR code (`ToTensor()` then `x*2 - 1`), and back with torchvision's
 * `save_image` rounding.
 */
import * as tf from '@tensorflow/tfjs-core';
import { interpolate, NonFiniteError, ShapeError, ValueError, type ResizeMode } from '@var/core';
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
   * Resize mode (PyTorch `F.interpolate` semantics, see `interpolate` in @var/core).
   * Default: `'area'` when both sides shrink, else `'bilinear'`. Results are clamped to [-1, 1].
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

/** Resize (B,C,H,W) to `resize` then center-crop to `crop`, clamped to [-1, 1]. Disposes nothing it did not make. */
function resizeCrop(x: tf.Tensor4D, resize: [number, number], crop: [number, number], mode: ResizeMode | undefined): tf.Tensor4D {
  return tf.tidy(() => {
    const [, , H, W] = x.shape;
    let y: tf.Tensor4D = x;
    if (resize[0] !== H || resize[1] !== W) {
      y = tf.clipByValue(interpolate(x, resize, mode ?? defaultResizeMode(H, W, resize[0], resize[1])), -1, 1);
    }
    if (crop[0] !== resize[0] || crop[1] !== resize[1]) y = centerCrop(y, crop);
    return y === x ? tf.clone(x) : y;
  });
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
  const same = conv.every((im) => im.height === h0 && im.width === w0);
  if (!same && options.size === undefined) {
    throw new ShapeError(
      `imagesToTensor: images have different sizes (${conv.map((im) => `${im.width}x${im.height}`).slice(0, 4).join(', ')}, …); pass options.size`,
    );
  }
  if (same) {
    const B = conv.length;
    const buf = new Float32Array(B * C * h0 * w0);
    conv.forEach((im, i) => fillPm1(im, buf, i * C * h0 * w0));
    const { resize, crop } = plannedGeometry(h0, w0, options.size);
    if (resize[0] === h0 && resize[1] === w0 && crop[0] === h0 && crop[1] === w0) return tf.tensor4d(buf, [B, C, h0, w0]);
    return tf.tidy(() => resizeCrop(tf.tensor4d(buf, [B, C, h0, w0]), resize, crop, options.mode));
  }
  return tf.tidy(() =>
    tf.concat(
      conv.map((im) => {
        const buf = new Float32Array(C * im.height * im.width);
        fillPm1(im, buf, 0);
        const { resize, crop } = plannedGeometry(im.height, im.width, options.size);
        return resizeCrop(tf.tensor4d(buf, [1, C, im.height, im.width]), resize, crop, options.mode);
      }),
      0,
    ),
  );
}

export interface TensorToImagesOptions {
  /**
   * Pixel layout of the result: `'native'` (default: 1 channel → gray, 3 → RGB),
   * `'rgb'` (gray replicated) or `'rgba'` (alpha 255).
   */
  format?: 'native' | 'rgb' | 'rgba';
}

/**
 * A (B, C, H, W) tensor in [-1, 1] (C = 1 or 3) → B images. Each value becomes
 * `clamp(floor(((x+1)/2)·255 + 0.5), 0, 255)` in float32 arithmetic, as VAR's
 * denormalisation followed by torchvision's `save_image`. Does not dispose `t`.
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
          throw new NonFiniteError(`tensorToImages: value ${x} at [${b}, ${C === 1 ? 0 : c}, ${Math.floor(p / W)}, ${p % W}]; expected finite values in [-1, 1]`);
        }
        const v = f(f(f(f(x + 1) * 0.5) * 255) + 0.5);
        data[p * outC + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v);
      }
      if (outC === 4) data[p * 4 + 3] = 255;
    }
    images.push({ width: W, height: H, channels: outC as 1 | 3 | 4, data });
  }
  return images;
}
