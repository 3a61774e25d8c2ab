import { describe, expect, it } from 'vitest';
import jpeg from 'jpeg-js';
import { encode as fpEncode } from 'fast-png';
import { Rng, ShapeError, ValueError, VarError } from '@var/core';
import { convertChannels, decodeImage, detectImageFormat, encodePng, type Channels, type RawImage } from '../src/codec.js';
import { ImageFormatError } from '../src/errors.js';

function randomImage(w: number, h: number, c: Channels, seed: number): RawImage {
  const r = new Rng(seed);
  const data = new Uint8Array(w * h * c);
  for (let i = 0; i < data.length; i++) data[i] = r.nextUint32() & 255;
  return { width: w, height: h, channels: c, data };
}

describe('PNG', () => {
  it.each([1, 2, 3, 4] as const)('round-trips %i-channel images exactly (decode → encode → decode)', (c) => {
    const img = randomImage(13, 7, c, c);
    const png = encodePng(img);
    expect(detectImageFormat(png)).toBe('png');
    const a = decodeImage(png);
    expect(a).toEqual({ width: 13, height: 7, channels: c, data: img.data });
    const b = decodeImage(encodePng(a, { level: 9 }));
    expect(b.channels).toBe(c);
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
  });

  it('decodes 16-bit, low-bit-depth gray and palette PNGs to 8 bits', () => {
    const d16 = new Uint16Array([0, 257, 65535, 32896, 1000, 65000]);
    const img16 = decodeImage(fpEncode({ width: 3, height: 2, channels: 1, depth: 16, data: d16 }));
    expect(Array.from(img16.data)).toEqual(Array.from(d16, (v) => Math.round(v / 257)));
    // 2-bit gray, 3 px wide: one byte per row, samples 0..3 → 0, 85, 170, 255.
    const d2 = new Uint8Array([0b00011011, 0b11100100]);
    const img2 = decodeImage(fpEncode({ width: 3, height: 2, channels: 1, depth: 2, data: d2 }));
    expect(Array.from(img2.data)).toEqual([0, 85, 170, 255, 170, 85]);
    const pal = decodeImage(
      fpEncode({
        width: 2,
        height: 2,
        channels: 1,
        depth: 8,
        data: new Uint8Array([0, 1, 1, 0]),
        palette: [
          [255, 0, 0],
          [0, 0, 255],
        ],
      }),
    );
    expect(pal.channels).toBe(3);
    expect(Array.from(pal.data)).toEqual([255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0]);
  });

  it('rejects unknown formats and corrupt data with ImageFormatError', () => {
    expect(() => decodeImage(new TextEncoder().encode('GIF89a....'), { source: 'x.gif' })).toThrow(
      /unknown image format.*x\.gif|x\.gif.*unknown image format/,
    );
    expect(() => decodeImage(new Uint8Array(0))).toThrow(ImageFormatError);
    const png = encodePng(randomImage(8, 8, 3, 1));
    expect(() => decodeImage(png.subarray(0, png.length - 30))).toThrow(ImageFormatError);
    const bad = png.slice();
    bad[40] ^= 0xff; // inside IDAT: CRC mismatch
    expect(() => decodeImage(bad)).toThrow(ImageFormatError);
    try {
      decodeImage(new Uint8Array([1, 2, 3]));
    } catch (e) {
      expect(e).toBeInstanceOf(VarError);
      expect((e as VarError).code).toBe('E_IMAGE_FORMAT');
    }
    expect(() => decodeImage('abc' as unknown as Uint8Array)).toThrow(ValueError);
  });

  it('rejects malformed images on encode with ShapeError', () => {
    expect(() => encodePng({ width: 2, height: 2, channels: 5 as Channels, data: new Uint8Array(20) })).toThrow(/channels must be 1/);
    expect(() => encodePng({ width: 2, height: 2, channels: 3, data: new Uint8Array(11) })).toThrow(ShapeError);
    expect(() => encodePng({ width: 0, height: 2, channels: 3, data: new Uint8Array(0) })).toThrow(ShapeError);
  });
});

describe('JPEG', () => {
  it('decodes a JPEG made by jpeg-js close to the source image', () => {
    const w = 32;
    const h = 24;
    const rgba = new Uint8Array(w * h * 4);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        rgba[o] = x * 8;
        rgba[o + 1] = y * 10;
        rgba[o + 2] = 128;
        rgba[o + 3] = 255;
      }
    }
    const bytes = new Uint8Array(jpeg.encode({ width: w, height: h, data: Buffer.from(rgba) }, 95).data);
    expect(detectImageFormat(bytes)).toBe('jpeg');
    const img = decodeImage(bytes);
    expect([img.width, img.height, img.channels]).toEqual([w, h, 3]);
    let err = 0;
    for (let p = 0; p < w * h; p++) for (let c = 0; c < 3; c++) err += Math.abs(img.data[p * 3 + c] - rgba[p * 4 + c]);
    expect(err / (w * h * 3)).toBeLessThan(3);
    expect(() => decodeImage(bytes.subarray(0, 40))).toThrow(ImageFormatError);
  });
});

describe('convertChannels', () => {
  it('converts gray ⇄ RGB and composites alpha', () => {
    const rgb: RawImage = { width: 2, height: 1, channels: 3, data: new Uint8Array([255, 0, 0, 10, 20, 30]) };
    const g = convertChannels(rgb, 1);
    expect(Array.from(g.data)).toEqual([76, 18]); // PIL: L = R*299/1000 + G*587/1000 + B*114/1000
    expect(Array.from(convertChannels(g, 3).data)).toEqual([76, 76, 76, 18, 18, 18]);
    const rgba: RawImage = { width: 2, height: 1, channels: 4, data: new Uint8Array([0, 0, 0, 0, 100, 50, 0, 128]) };
    expect(Array.from(convertChannels(rgba, 3).data)).toEqual([
      255,
      255,
      255,
      Math.round((100 * 128 + 255 * 127) / 255),
      Math.round((50 * 128 + 255 * 127) / 255),
      127,
    ]);
    expect(Array.from(convertChannels(rgba, 3, { background: 0 }).data)).toEqual([0, 0, 0, 50, 25, 0]);
    expect(Array.from(convertChannels(rgba, 3, { background: null }).data)).toEqual([0, 0, 0, 100, 50, 0]);
    expect(Array.from(convertChannels(g, 4).data)).toEqual([76, 76, 76, 255, 18, 18, 18, 255]);
    expect(convertChannels(rgb, 3)).toBe(rgb);
    expect(() => convertChannels(rgb, 0 as Channels)).toThrow(ShapeError);
    expect(() => convertChannels(rgba, 3, { background: [1, 2] as unknown as [number, number, number] })).toThrow(ValueError);
  });
});
