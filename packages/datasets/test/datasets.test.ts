import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ValueError } from '@var/core';
import { classCounts, DataIOError, splitDataset } from '@var/data';
import { EMOJI_CATEGORIES, EMOJI_SIZE, MNIST_SIZE, emojiDataset, mnistDataset } from '@var/datasets';

describe('mnistDataset', () => {
  it('has the 10,000 digits of the mnist package, labels 0–9, 28×28 gray in 0…255', async () => {
    const ds = await mnistDataset();
    expect(ds.length).toBe(10000);
    expect(ds.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(classCounts(ds)).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    let min = 255;
    let max = 0;
    for (const v of ds.pixels) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect([min, max]).toEqual([0, 255]);
    const img = await ds.get(1001); // the first '1'
    expect([img.width, img.height, img.channels, ds.labels[1001], ds.key(1001)]).toEqual([28, 28, 1, 1, 'mnist/1/0']);
    // exact 8-bit values: the package stores v/255 rounded to 3 decimals
    const raw = (createRequire(import.meta.url)('mnist') as { [d: number]: { raw: number[] } })[1].raw;
    expect(Array.from(img.data)).toEqual(raw.slice(0, 784).map((v) => Math.round(v * 255)));
    const padded = await (await mnistDataset({ padTo: 32 })).get(1001);
    expect([padded.width, padded.height]).toEqual([32, 32]);
    expect(padded.data[2 * 32 + 2 + 14 * 32 + 14]).toBe(img.data[14 * 28 + 14]);
    expect(padded.data.slice(0, 64).every((v) => v === 0)).toBe(true);
    await expect(mnistDataset({ padTo: 20 })).rejects.toThrow(ValueError);
  });
});

describe('emojiDataset', () => {
  it('labels the base emoji by sorted category; counts match emoji.json on disk', async () => {
    const ds = await emojiDataset();
    expect(ds.classNames).toEqual([...EMOJI_CATEGORIES]);
    const root = dirname(createRequire(import.meta.url).resolve('emoji-datasource-google/package.json'));
    const entries = JSON.parse(await readFile(join(root, 'emoji.json'), 'utf8')) as { category: string; has_img_google: boolean }[];
    const expected = EMOJI_CATEGORIES.map((c) => entries.filter((e) => e.category === c && e.has_img_google).length);
    expect(classCounts(ds)).toEqual(expected);
    // The figures documented in the README (emoji-datasource-google 16.0.0).
    expect(classCounts(ds)).toEqual([85, 159, 270, 131, 264, 386, 169, 224, 218]);
    expect(ds.length).toBe(1906);
    // decode a few, not all
    for (const i of [0, 500, ds.length - 1]) {
      const img = await ds.get(i);
      expect([img.width, img.height]).toEqual([64, 64]);
      expect(ds.items[i].category).toBe(ds.classNames[ds.labels[i]]);
    }
    const faces = await emojiDataset({ categories: ['Smileys & Emotion', 'Flags'] });
    expect(faces.classNames).toEqual(['Flags', 'Smileys & Emotion']);
    expect(faces.length).toBe(270 + 169);
    const skin = await emojiDataset({ categories: ['People & Body'], includeSkinTones: true });
    expect(skin.length).toBeGreaterThan(386);
    await expect(emojiDataset({ categories: ['Nope'] })).rejects.toThrow(/unknown category "Nope"/);
  });
});

describe('splits of the real sets', () => {
  it('MNIST with a held-out fraction of 0.1 is 9,001 / 999, stratified (the figures the READMEs give)', async () => {
    const ds = await mnistDataset();
    const { train, heldOut, heldOutIndices } = splitDataset(ds, { heldOutFraction: 0.1, seed: 0 });
    expect([train.length, heldOut.length]).toEqual([9001, 999]);
    expect(classCounts(heldOut)).toEqual([100, 113, 99, 103, 98, 86, 101, 107, 94, 98]);
    expect(heldOut.key(5)).toBe(ds.key(heldOutIndices[5]));
    expect(await heldOut.get(5)).toEqual(await ds.get(heldOutIndices[5]));
  });
});

describe('sizes and errors', () => {
  it('exports the image sides and refuses bad indices and roots with typed errors', async () => {
    expect([MNIST_SIZE, EMOJI_SIZE]).toEqual([28, 64]);
    const ds = await mnistDataset();
    await expect(ds.get(10000)).rejects.toThrow(ValueError);
    expect(() => ds.key(-1)).toThrow(/index must be an integer in 0…9999; got -1/);
    await expect(emojiDataset({ root: join(tmpdir(), 'var-datasets-no-such-folder') })).rejects.toThrow(DataIOError);
  });
});
