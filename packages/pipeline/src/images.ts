/**
 * What a generation hands back: images a user can use at once (PNG bytes, RGBA pixels,
 * `ImageData` in browsers) made by the one tensor → pixels conversion of var.ts,
 * `tensorToImages` of @var/data.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ValueError } from '@var/core';
import { encodePng, tensorToImages, type RawImage } from '@var/data';

/** One generated (or edited) image. */
export interface GeneratedImage {
  /** Position in the request (0-based). */
  index: number;
  /** The class it was generated for (`numClasses` = unconditional) and that class's name. */
  label: number;
  className: string;
  width: number;
  height: number;
  /** The model's channels: 1 (gray, e.g. MNIST) or 3 (RGB). */
  channels: 1 | 3;
  /** The pixels in the model's channels, row-major (`channels` bytes per pixel). */
  pixels: RawImage;
  /** RGBA, 4 bytes per pixel (gray replicated, alpha 255): ready for a canvas. */
  rgba: Uint8ClampedArray;
  /** The image as PNG bytes (gray PNG for 1 channel), encoded on first call. */
  png(): Uint8Array;
  /** An `ImageData` (browsers, or any runtime that has it). @throws ValueError where `ImageData` does not exist. */
  toImageData(): ImageData;
}

function rgbaOf(img: RawImage): Uint8ClampedArray {
  const n = img.width * img.height;
  const out = new Uint8ClampedArray(n * 4);
  const c = img.channels;
  for (let p = 0; p < n; p++) {
    if (c === 1) {
      const v = img.data[p];
      out[4 * p] = v;
      out[4 * p + 1] = v;
      out[4 * p + 2] = v;
    } else {
      out[4 * p] = img.data[c * p];
      out[4 * p + 1] = img.data[c * p + 1];
      out[4 * p + 2] = img.data[c * p + 2];
    }
    out[4 * p + 3] = 255;
  }
  return out;
}

/** Wrap pixels (1 or 3 channels) as a {@link GeneratedImage}. */
export function generatedImage(pixels: RawImage, index: number, label: number, className: string): GeneratedImage {
  if (pixels.channels !== 1 && pixels.channels !== 3) {
    throw new ValueError(`generatedImage: expected 1 or 3 channels; got ${pixels.channels}`);
  }
  let png: Uint8Array | null = null;
  let rgba: Uint8ClampedArray | null = null;
  const channels = pixels.channels;
  return {
    index,
    label,
    className,
    width: pixels.width,
    height: pixels.height,
    channels,
    pixels,
    get rgba() {
      rgba ??= rgbaOf(pixels);
      return rgba;
    },
    png() {
      png ??= encodePng(pixels);
      return png;
    },
    toImageData() {
      const Ctor = (globalThis as { ImageData?: typeof ImageData }).ImageData;
      if (typeof Ctor !== 'function') {
        throw new ValueError(
          'toImageData: ImageData does not exist in this runtime (it does in browsers and workers); use .rgba or .png()',
        );
      }
      return new Ctor(new Uint8ClampedArray(this.rgba), pixels.width, pixels.height);
    },
  };
}

/**
 * Images `(B, C, H, W)` in [0, 1] (as `generate` returns) in the model's `channels`: a 1-channel
 * model whose decoder gives 3 planes is shown as their mean, a 1-plane decoder of a 3-channel
 * model as gray RGB. A new tensor; does not dispose `images`.
 */
export function inModelChannels(images: tf.Tensor4D, channels: 1 | 3): tf.Tensor4D {
  const C = images.shape[1];
  if (C === channels) return tf.clone(images);
  if (channels === 1) return tf.tidy(() => tf.mean(images, 1, true) as tf.Tensor4D);
  if (C === 1) return tf.tile(images, [1, 3, 1, 1]) as tf.Tensor4D;
  throw new ValueError(`inModelChannels: images have ${C} channels; expected 1 or 3`);
}

/** Images `(B, C, H, W)` in [0, 1] → pixels in the model's `channels` (see {@link inModelChannels}). Does not dispose `images`. */
export async function toPixels(images: tf.Tensor4D, channels: 1 | 3): Promise<RawImage[]> {
  const shown = inModelChannels(images, channels);
  try {
    return await tensorToImages(shown, { range: 'unit' });
  } finally {
    shown.dispose();
  }
}
