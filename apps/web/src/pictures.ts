/**
 * Tensors ⇄ pixels in the worker, with the conversions the CLI uses (`@var/data`), so the page
 * shows exactly the pixels `var generate` writes: gray models give gray RGBA, RGB models RGB.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ShapeError } from '@var/core';
import { decodeImage, imageToTensor, tensorToImages, type RawImage } from '@var/data';
import type { ImageInput, Pictures } from './protocol';

/**
 * Images from `generate` / `edit` / `onScale` previews — (B, C, H, W) in [0, 1], C = 1 or 3 —
 * as RGBA. Rounds as `tensorToImages` (VAR's denormalisation + torchvision's `save_image`).
 * Does not dispose `images`.
 */
export async function toPictures(images: tf.Tensor4D): Promise<Pictures> {
  const [, C, H, W] = images.shape;
  const signed = tf.tidy(() => tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D);
  try {
    const raw = await tensorToImages(signed, { format: 'rgba' });
    return { width: W, height: H, channels: C, rgba: raw.map((r) => new Uint8ClampedArray(r.data.buffer, r.data.byteOffset, r.data.byteLength)) };
  } finally {
    signed.dispose();
  }
}

/** The user's image as a RawImage: PNG/JPEG bytes decoded by `@var/data`, or RGBA pixels the browser decoded. */
export function rawImage(input: ImageInput): RawImage {
  if (input.kind === 'bytes') return decodeImage(new Uint8Array(input.bytes), { source: input.name });
  if (input.width < 1 || input.height < 1 || input.data.length !== input.width * input.height * 4) {
    throw new ShapeError(`${input.name}: expected ${input.width}×${input.height} RGBA pixels (${input.width * input.height * 4} bytes); got ${input.data.length} bytes`);
  }
  return { width: input.width, height: input.height, channels: 4, data: new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength) };
}

/**
 * The user's image as the tokenizer's input: (1, C, size, size) in [-1, 1], centre-cropped and
 * resized as `var edit` does (`imageToTensor` of `@var/data`), with C the model's channels.
 */
export function imageInputTensor(input: ImageInput, channels: 1 | 3, size: number): tf.Tensor4D {
  return imageToTensor(rawImage(input), { channels, size });
}
