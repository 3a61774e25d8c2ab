/**
 * Pure-JS image codecs (browser and Node): PNG read/write with `fast-png`, JPEG read
 * with `jpeg-js`. Every decoded image is normalised to 8 bits per sample, interleaved
 * (HWC), 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) channels.
 */
import { decode as pngDecode, encode as pngEncode, convertIndexedToRgb } from 'fast-png';
import jpeg from 'jpeg-js';
import { ShapeError, ValueError } from '@var/core';
import { ImageFormatError } from './errors.js';

/** Number of interleaved channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
export type Channels = 1 | 2 | 3 | 4;

/** A decoded 8-bit image, row-major, channels interleaved (HWC): `data.length === width*height*channels`. */
export interface RawImage {
  width: number;
  height: number;
  channels: Channels;
  data: Uint8Array;
}

/** Image formats this package can decode. */
export type ImageFormat = 'png' | 'jpeg';

export interface DecodeOptions {
  /** Name of the file/URL the bytes came from, used in error messages. */
  source?: string;
  /** Refuse JPEGs larger than this many megapixels (default 100). */
  maxMegapixels?: number;
}

export interface EncodePngOptions {
  /** zlib level 0 (store) … 9 (smallest); default 6. */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

/** A background colour for compositing alpha away: one gray level or `[r, g, b]`, 0…255. */
export type Background = number | readonly [number, number, number];

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function toBytes(input: Uint8Array | ArrayBuffer | ArrayBufferView, where: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  throw new ValueError(
    `${where}: expected the file's bytes as a Uint8Array, ArrayBuffer or typed array; got ${
      input === null ? 'null' : typeof input === 'object' ? ((input as object).constructor?.name ?? 'object') : typeof input
    }`,
  );
}

/** The format of `bytes` by its signature (`'png'`, `'jpeg'`), or `null` if neither. */
export function detectImageFormat(bytes: Uint8Array | ArrayBuffer | ArrayBufferView): ImageFormat | null {
  const b = toBytes(bytes, 'detectImageFormat');
  if (b.length >= 8 && PNG_SIGNATURE.every((v, i) => b[i] === v)) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  return null;
}

function describe(source: string | undefined): string {
  return source ? ` (${source})` : '';
}

/**
 * Decode PNG or JPEG bytes (format detected from the signature, not the file name).
 *
 * PNG: any bit depth and colour type; palettes are expanded to RGB/RGBA, 16-bit samples
 * are reduced to 8 bits (rounded, v/257), 1/2/4-bit gray is scaled to 0…255. A tRNS
 * colour key on gray/RGB images is ignored. JPEG: baseline and progressive, decoded to
 * RGB (3 channels, also for grayscale JPEGs).
 *
 * @throws ImageFormatError for an unknown signature or corrupt/truncated data.
 * @throws ValueError when `bytes` is not binary data.
 */
export function decodeImage(bytes: Uint8Array | ArrayBuffer | ArrayBufferView, options: DecodeOptions = {}): RawImage {
  const b = toBytes(bytes, 'decodeImage');
  const fmt = detectImageFormat(b);
  const src = options.source;
  if (fmt === null) {
    const head = Array.from(b.subarray(0, 8), (v) => v.toString(16).padStart(2, '0')).join(' ');
    throw new ImageFormatError(
      `decodeImage${describe(src)}: unknown image format; expected PNG (89 50 4e 47 …) or JPEG (ff d8 ff …), found ${
        b.length === 0 ? 'an empty buffer' : `first bytes ${head}`
      }`,
      { source: src },
    );
  }
  try {
    return fmt === 'png' ? decodePngBytes(b) : decodeJpegBytes(b, options.maxMegapixels ?? 100);
  } catch (err) {
    if (err instanceof ImageFormatError) throw err;
    throw new ImageFormatError(
      `decodeImage${describe(src)}: corrupt or unsupported ${fmt.toUpperCase()} data: ${(err as Error)?.message ?? String(err)}`,
      { cause: err, source: src },
    );
  }
}

function decodePngBytes(b: Uint8Array): RawImage {
  const png = pngDecode(b, { checkCrc: true });
  const { width, height } = png;
  if (!(width > 0 && height > 0)) throw new Error(`image has size ${width}x${height}`);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const channels = png.palette[0].length as 3 | 4;
    return { width, height, channels, data: rgb.slice(0, width * height * channels) };
  }
  const channels = png.channels as Channels;
  const n = width * height * channels;
  const src = png.data;
  const out = new Uint8Array(n);
  if (png.depth === 8) {
    if (src.length < n) throw new Error(`pixel data too short: ${src.length} < ${n}`);
    out.set(src.subarray(0, n));
  } else if (png.depth === 16) {
    if (src.length < n) throw new Error(`pixel data too short: ${src.length} < ${n}`);
    for (let i = 0; i < n; i++) out[i] = Math.round(src[i] / 257);
  } else {
    // 1, 2 or 4 bits per sample (gray only); each row starts on a byte boundary.
    const d = png.depth;
    const perByte = 8 / d;
    const rowBytes = Math.ceil((width * channels) / perByte);
    const maxV = (1 << d) - 1;
    const scale = 255 / maxV;
    if (src.length < rowBytes * height) throw new Error(`pixel data too short: ${src.length} < ${rowBytes * height}`);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width * channels; x++) {
        const byte = src[y * rowBytes + Math.floor(x / perByte)];
        const shift = 8 - d * ((x % perByte) + 1);
        out[y * width * channels + x] = Math.round(((byte >> shift) & maxV) * scale);
      }
    }
  }
  return { width, height, channels, data: out };
}

function decodeJpegBytes(b: Uint8Array, maxMegapixels: number): RawImage {
  const img = jpeg.decode(b, {
    useTArray: true,
    formatAsRGBA: false,
    maxResolutionInMP: maxMegapixels,
    maxMemoryUsageInMB: Math.max(512, Math.ceil(maxMegapixels * 8)),
  });
  const n = img.width * img.height * 3;
  const data = img.data.length === n ? img.data : img.data.slice(0, n);
  return { width: img.width, height: img.height, channels: 3, data: new Uint8Array(data.buffer, data.byteOffset, n) };
}

/**
 * Check that `img` is a well-formed {@link RawImage}.
 * @throws ShapeError for bad sizes, channel counts or a data length that does not match.
 */
export function assertRawImage(img: RawImage, where: string): void {
  if (img === null || typeof img !== 'object') {
    throw new ShapeError(`${where}: expected an image {width, height, channels, data}; got ${img === null ? 'null' : typeof img}`);
  }
  const { width, height, channels, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new ShapeError(`${where}: width and height must be positive integers; got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new ShapeError(`${where}: channels must be 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA); got ${channels}`);
  }
  if (!(data instanceof Uint8Array || (data as unknown) instanceof Uint8ClampedArray)) {
    throw new ShapeError(`${where}: data must be a Uint8Array of 8-bit samples; got ${(data as object)?.constructor?.name ?? typeof data}`);
  }
  const n = width * height * channels;
  if (data.length !== n) {
    throw new ShapeError(
      `${where}: data length ${data.length} does not match ${width}x${height}x${channels} = ${n} (row-major, interleaved channels)`,
    );
  }
}

/**
 * Encode an 8-bit image as PNG (colour type from `channels`: gray, gray+alpha, RGB, RGBA).
 * @throws ShapeError when the image is malformed.
 */
export function encodePng(img: RawImage, options: EncodePngOptions = {}): Uint8Array {
  assertRawImage(img, 'encodePng');
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new ValueError(`encodePng: level must be an integer 0…9; got ${level}`);
  }
  const data = img.data instanceof Uint8Array ? img.data : new Uint8Array(img.data);
  return pngEncode({ width: img.width, height: img.height, channels: img.channels, depth: 8, data }, { zlib: { level } });
}

function bgRgb(background: Background, where: string): [number, number, number] {
  const rgb: number[] = typeof background === 'number' ? [background, background, background] : [...background];
  if (rgb.length !== 3 || rgb.some((v) => !Number.isFinite(v) || v < 0 || v > 255)) {
    throw new ValueError(`${where}: background must be a gray level or [r, g, b] with values in 0…255; got ${JSON.stringify(background)}`);
  }
  return rgb as [number, number, number];
}

/** ITU-R 601 luma with PIL's fixed-point rounding (`Image.convert('L')`). */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/**
 * Convert an image to `channels` channels.
 *
 * - gray → RGB replicates; RGB → gray uses ITU-R 601 luma (as PIL's `convert('L')`).
 * - Removing alpha composites over `background` (default white, 255): `round((c·a + bg·(255−a))/255)`.
 *   With `background: null` alpha is dropped and the stored colour kept (as PIL's `convert('RGB')`).
 * - Adding alpha sets it to 255.
 *
 * Returns `img` itself when it already has `channels` channels.
 */
export function convertChannels(img: RawImage, channels: Channels, options: { background?: Background | null } = {}): RawImage {
  assertRawImage(img, 'convertChannels');
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    throw new ShapeError(`convertChannels: channels must be 1, 2, 3 or 4; got ${channels}`);
  }
  if (img.channels === channels) return img;
  const bg = options.background === null ? null : bgRgb(options.background ?? 255, 'convertChannels');
  const n = img.width * img.height;
  const cin = img.channels;
  const src = img.data;
  const out = new Uint8Array(n * channels);
  const inAlpha = cin === 2 || cin === 4;
  const outAlpha = channels === 2 || channels === 4;
  for (let p = 0; p < n; p++) {
    const o = p * cin;
    let r: number, g: number, b: number;
    if (cin <= 2) r = g = b = src[o];
    else {
      r = src[o];
      g = src[o + 1];
      b = src[o + 2];
    }
    const a = inAlpha ? src[o + cin - 1] : 255;
    if (inAlpha && !outAlpha && bg !== null && a !== 255) {
      r = Math.round((r * a + bg[0] * (255 - a)) / 255);
      g = Math.round((g * a + bg[1] * (255 - a)) / 255);
      b = Math.round((b * a + bg[2] * (255 - a)) / 255);
    }
    const q = p * channels;
    if (channels <= 2) {
      out[q] = luma(r, g, b); // exact identity for r = g = b (the weights sum to 65536)
    } else {
      out[q] = r;
      out[q + 1] = g;
      out[q + 2] = b;
    }
    if (outAlpha) out[q + channels - 1] = a;
  }
  return { width: img.width, height: img.height, channels, data: out };
}
