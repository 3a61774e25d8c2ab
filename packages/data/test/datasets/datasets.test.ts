import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { ValueError } from '@var/core';
import { encodePng, type RawImage } from '../../src/codec.js';
import { cacheDataset, classCounts, shuffleDataset, splitDataset, subset, type ImageDataset } from '../../src/dataset.js';
import { DataIOError, ImageFormatError } from '../../src/errors.js';
import { imageFolderDataset } from '../../src/datasets/folder.js';

let dir: string;
const solid = (v: number, w = 4, h = 4): RawImage => ({ width: w, height: h, channels: 3, data: new Uint8Array(w * h * 3).fill(v) });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'var-data-ds-'));
  const cls = join(dir, 'classes');
  await mkdir(join(cls, 'dogs', 'nested'), { recursive: true });
  await mkdir(join(cls, 'cats'), { recursive: true });
  await mkdir(join(cls, 'empty'), { recursive: true });
  await writeFile(join(cls, 'cats', 'b.png'), encodePng(solid(10)));
  await writeFile(join(cls, 'cats', 'a.PNG'), encodePng(solid(20)));
  await writeFile(join(cls, 'cats', 'readme.txt'), 'not an image');
  await writeFile(join(cls, 'dogs', 'x.jpg'), jpeg.encode({ width: 4, height: 4, data: Buffer.alloc(64, 200) }, 90).data);
  await writeFile(join(cls, 'dogs', 'nested', 'y.png'), encodePng(solid(30)));
  await writeFile(join(cls, 'dogs', '.DS_Store'), 'junk');
  await writeFile(join(cls, 'stray.png'), encodePng(solid(40)));
  const flat = join(dir, 'flat');
  await mkdir(flat);
  for (let i = 0; i < 3; i++) await writeFile(join(flat, `img${i}.png`), encodePng(solid(i * 50)));
  await writeFile(join(flat, 'broken.png'), 'this is not a png');
  await writeFile(join(flat, 'labels.csv'), 'a,b');
  await mkdir(join(dir, 'empty'));
  await mkdir(join(dir, 'onlytext'));
  await writeFile(join(dir, 'onlytext', 'a.txt'), 'x');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('imageFolderDataset', () => {
  it('reads one class per sub-folder, sorted, recursively, listing what it skipped', async () => {
    const ds = await imageFolderDataset(join(dir, 'classes'));
    expect(ds.layout).toBe('classes');
    expect(ds.classNames).toEqual(['cats', 'dogs']);
    expect(ds.files).toEqual(['cats/a.PNG', 'cats/b.png', 'dogs/nested/y.png', 'dogs/x.jpg']);
    expect(Array.from(ds.labels)).toEqual([0, 0, 1, 1]);
    expect(ds.skipped.some((s) => s.startsWith('cats/readme.txt: not an image'))).toBe(true);
    expect(ds.skipped.some((s) => s.startsWith('stray.png: outside'))).toBe(true);
    expect(ds.skipped.some((s) => s.startsWith('empty/: class folder without images'))).toBe(true);
    expect(ds.skipped.some((s) => s.startsWith('dogs/.DS_Store: hidden'))).toBe(true);
    expect((await ds.get(0)).data[0]).toBe(20);
    const j = await ds.get(3);
    expect([j.width, j.channels]).toEqual([4, 3]);
    expect(Math.abs(j.data[0] - 200)).toBeLessThan(4);
    expect(classCounts(ds)).toEqual([2, 2]);
    await expect(ds.get(4)).rejects.toThrow(ValueError);
  });

  it('reads a flat folder as unconditional and reports bad files when read', async () => {
    const ds = await imageFolderDataset(join(dir, 'flat'));
    expect(ds.layout).toBe('flat');
    expect(ds.classNames).toEqual([]);
    expect(ds.length).toBe(4);
    expect(Array.from(ds.labels)).toEqual([0, 0, 0, 0]);
    expect(ds.skipped).toEqual(['labels.csv: not an image (extension ".csv", expected .png, .jpg, .jpeg)']);
    expect(ds.files[0]).toBe('broken.png');
    await expect(ds.get(0)).rejects.toThrow(ImageFormatError);
    expect((await ds.get(2)).data[0]).toBe(50);
    const cached = cacheDataset(ds);
    const first = await cached.get(2);
    expect(await cached.get(2)).toBe(first); // decoded once
    await expect(cached.get(0)).rejects.toThrow(ImageFormatError);
    await expect(cached.get(0)).rejects.toThrow(ImageFormatError);
  });

  it('throws typed errors for empty, image-less and missing folders', async () => {
    await expect(imageFolderDataset(join(dir, 'empty'))).rejects.toThrow(/no images .*\(the folder is empty\)/);
    await expect(imageFolderDataset(join(dir, 'onlytext'))).rejects.toThrow(ValueError);
    await expect(imageFolderDataset(join(dir, 'nope'))).rejects.toThrow(DataIOError);
  });
});

/**
 * A labels-only dataset with MNIST's class sizes (10,000 images, digit-major): splits and
 * shuffles look at labels and keys only; each image is a 2×2 gray square whose value is
 * derived from its index.
 */
function labelledDataset(perClass: number[]): ImageDataset {
  const labels = Int32Array.from(perClass.flatMap((n, c) => new Array<number>(n).fill(c)));
  const ds: ImageDataset = {
    name: 'labelled',
    length: labels.length,
    classNames: perClass.map((_, c) => String(c)),
    labels,
    key: (i) => `labelled/${i}`,
    get: async (i) => {
      if (!(Number.isInteger(i) && i >= 0 && i < labels.length)) throw new ValueError(`index ${i}`);
      return { width: 2, height: 2, channels: 1, data: new Uint8Array(4).fill(i % 256) };
    },
  };
  return ds;
}

describe('splits and shuffles', () => {
  it('are deterministic, disjoint, complete and stratified', async () => {
    const ds = labelledDataset([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    const a = splitDataset(ds, { heldOutFraction: 0.1, seed: 1 });
    const b = splitDataset(ds, { heldOutFraction: 0.1, seed: 1 });
    const c = splitDataset(ds, { heldOutFraction: 0.1, seed: 2 });
    expect(Array.from(a.heldOutIndices)).toEqual(Array.from(b.heldOutIndices));
    expect(Array.from(a.heldOutIndices)).not.toEqual(Array.from(c.heldOutIndices));
    const all = new Set([...a.trainIndices, ...a.heldOutIndices]);
    expect(all.size).toBe(ds.length);
    expect(a.trainIndices.length + a.heldOutIndices.length).toBe(ds.length);
    expect(classCounts(a.heldOut)).toEqual([100, 113, 99, 103, 98, 86, 101, 107, 94, 98]); // round(n_c / 10)
    expect(a.heldOut.key(0)).toBe(ds.key(a.heldOutIndices[0]));
    // a held-out image is the dataset's image
    expect(await a.heldOut.get(3)).toEqual(await ds.get(a.heldOutIndices[3]));
    const flat = splitDataset(ds, { heldOutFraction: 0.25, seed: 1, stratify: false });
    expect(flat.heldOutIndices.length).toBe(2500);
    expect(() => splitDataset(ds, { heldOutFraction: 1 })).toThrow(ValueError);

    const s1 = shuffleDataset(ds, 5);
    const s2 = shuffleDataset(ds, 5);
    expect(Array.from({ length: 20 }, (_, i) => s1.key(i))).toEqual(Array.from({ length: 20 }, (_, i) => s2.key(i)));
    expect(Array.from({ length: 20 }, (_, i) => s1.key(i))).not.toEqual(Array.from({ length: 20 }, (_, i) => ds.key(i)));
    expect(() => subset(ds, [10000])).toThrow(ValueError);
  });
});
