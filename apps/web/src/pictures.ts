/**
 * Pixels for the page: the images of `@var/pipeline` (its one tensor → pixels conversion, the
 * CLI's), packed as the worker posts them, and the user's uploads as `RawImage`s.
 */
import { ShapeError } from '@var/core';
import { decodeImage, type RawImage } from '@var/data';
import type { GeneratedImage } from '@var/pipeline';
import type { ImageInput, Pictures } from './protocol';

/** Generated images (RGBA: gray models give gray RGBA) → the message the page draws. */
export function picturesOf(images: readonly GeneratedImage[], channels: number): Pictures {
  const first = images[0];
  return { width: first?.width ?? 0, height: first?.height ?? 0, channels, rgba: images.map((im) => im.rgba) };
}

/** The user's image as a RawImage: PNG/JPEG bytes decoded by `@var/data`, or RGBA pixels the browser decoded. */
export function rawImage(input: ImageInput): RawImage {
  if (input.kind === 'bytes') return decodeImage(new Uint8Array(input.bytes), { source: input.name });
  if (input.width < 1 || input.height < 1 || input.data.length !== input.width * input.height * 4) {
    throw new ShapeError(
      `${input.name}: expected ${input.width}×${input.height} RGBA pixels (${input.width * input.height * 4} bytes); got ${input.data.length} bytes`,
    );
  }
  return {
    width: input.width,
    height: input.height,
    channels: 4,
    data: new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength),
  };
}
