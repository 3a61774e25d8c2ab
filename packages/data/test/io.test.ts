import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ShapeError } from '@var/core';
import { encodePng, type RawImage } from '../src/codec.js';
import { DataIOError, ImageFormatError } from '../src/errors.js';
import { makeGrid } from '../src/grid.js';
import { FONT_CHARS, glyph } from '../src/font.js';
import { readImage, writePng } from '../src/io.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'var-data-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const img: RawImage = { width: 3, height: 2, channels: 3, data: Uint8Array.from({ length: 18 }, (_, i) => i * 14) };

describe('readImage / writePng', () => {
  it('writes atomically (no temp file left) and reads back the same pixels', async () => {
    const p = join(dir, 'sub', 'a.png');
    await writePng(p, img);
    expect(await readImage(p)).toEqual(img);
    await writePng(p, { ...img, data: img.data.map((v) => 255 - v) }); // overwrite in place
    expect((await readImage(p)).data[0]).toBe(255);
    expect(await readdir(join(dir, 'sub'))).toEqual(['a.png']);
    expect(Buffer.from(await readFile(p)).equals(Buffer.from(encodePng({ ...img, data: img.data.map((v) => 255 - v) })))).toBe(true);
  });

  it('throws DataIOError for unreadable paths and ImageFormatError for non-images', async () => {
    await expect(readImage(join(dir, 'missing.png'))).rejects.toThrow(DataIOError);
    await expect(readImage(join(dir, 'missing.png'))).rejects.toThrow(/ENOENT/);
    await expect(readImage(dir)).rejects.toThrow(DataIOError); // a folder
    const txt = join(dir, 'notes.png');
    await writeFile(txt, 'hello');
    await expect(readImage(txt)).rejects.toThrow(ImageFormatError);
    await expect(readImage(txt)).rejects.toThrow(/notes\.png/);
    // writing into a path whose parent is a file fails cleanly
    await expect(writePng(join(txt, 'x.png'), img)).rejects.toThrow(DataIOError);
    await expect(writePng(join(dir, 'b.png'), { ...img, channels: 5 as 3 })).rejects.toThrow(ShapeError);
  });
});

describe('makeGrid', () => {
  it('lays out images with padding and draws labels in the 5×7 font', async () => {
    const tile = (v: number): RawImage => ({ width: 12, height: 10, channels: 1, data: new Uint8Array(120).fill(v) });
    const g = makeGrid([tile(50), tile(100), tile(150)], { cols: 2, padding: 2 });
    expect([g.width, g.height, g.channels]).toEqual([2 * 14 + 2, 2 * 12 + 2, 1]);
    expect(g.data[2 * g.width + 2]).toBe(50);
    expect(g.data[2 * g.width + 16]).toBe(100);
    expect(g.data[14 * g.width + 2]).toBe(150);
    expect(g.data[0]).toBe(0);

    const lab = makeGrid([tile(50), tile(100)], { cols: 2, labels: ['1', 'A'], padValue: 0 });
    const strip = 7 + 2;
    expect(lab.height).toBe(10 + strip + 4);
    // glyph '1' centered under tile 0: text width 5, x offset floor((12 - 5) / 2) = 3
    const g1 = glyph('1');
    for (let gy = 0; gy < 7; gy++) {
      for (let gx = 0; gx < 5; gx++) {
        const px = 2 + 3 + gx;
        const py = 2 + 10 + 1 + gy;
        expect(lab.data[py * lab.width + px]).toBe(g1[gy][gx] ? 255 : 0);
      }
    }
    const rgb = makeGrid([img, { ...img }], { labels: ['x', 'y'], fontScale: 1 });
    expect(rgb.channels).toBe(3);
    await writePng(join(dir, 'grid.png'), lab);
    expect(await readImage(join(dir, 'grid.png'))).toEqual(lab);
    expect(FONT_CHARS.length).toBeGreaterThan(40);
    expect(() => makeGrid([])).toThrow(ShapeError);
    expect(() => makeGrid([tile(1), img])).toThrow(/same size/);
    expect(() => makeGrid([tile(1)], { labels: ['a', 'b'] })).toThrow(/one string per image/);
  });
});
