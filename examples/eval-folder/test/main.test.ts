import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng, initBackend } from '@var/core';
import { imagesToTensor, readImage, writePng } from '@var/data';
import { mnistDataset } from '@var/datasets';
import { DigitClassifier, fidFromFeatures } from '@var/metrics';
import { mnistReferenceIndices } from '../main.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..'); // the example's folder
const exec = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'var-example-eval-'));
const PER_CLASS = 10;
const REF_COUNT = 1000;

interface FolderResult {
  folder: string;
  images: number;
  fid: number;
  digitScore: number;
  accuracy: number | null;
  confidence: number;
  predictions: { file: string; predicted: number }[];
}

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  // A folder of real MNIST digits (class sub-folders "0"…"9"), none of them in the reference subset …
  const ds = await mnistDataset();
  const ref = new Set(mnistReferenceIndices(ds.length, REF_COUNT, 0));
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(root, 'digits', String(d)), { recursive: true });
    const picked = [];
    for (let i = ds.length - 1; i >= 0 && picked.length < PER_CLASS; i--) if (ds.labels[i] === d && !ref.has(i)) picked.push(i);
    for (const i of picked) await writePng(join(root, 'digits', String(d), `mnist-${i}.png`), await ds.get(i));
  }
  // … and one of uniform noise, laid out the same way.
  const rng = new Rng(12345);
  for (let d = 0; d < 10; d++) {
    mkdirSync(join(root, 'noise', String(d)), { recursive: true });
    for (let j = 0; j < PER_CLASS; j++) {
      const data = Uint8Array.from({ length: 28 * 28 }, () => Math.floor(rng.random() * 256));
      await writePng(join(root, 'noise', String(d), `noise-${j}.png`), { width: 28, height: 28, channels: 1, data });
    }
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('eval-folder example', () => {
  it('scores a folder of real digits far better than a folder of noise', async () => {
    const t0 = performance.now();
    const report = join(root, 'report.json');
    const { stdout } = await exec(
      process.execPath,
      [
        join(here, 'main.mjs'),
        join(root, 'digits'),
        join(root, 'noise'),
        '--backend',
        'wasm',
        '--reference-count',
        String(REF_COUNT),
        '--out',
        report,
      ],
      { cwd: here, env: { ...process.env, VAR_WASM_THREADS: '1' } },
    );
    console.info(
      `eval-folder command (2 folders × ${10 * PER_CLASS} images, ${REF_COUNT} reference digits): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(stdout).toContain('digit score');
    const r = JSON.parse(readFileSync(report, 'utf8'));
    expect(r.reference).toMatchObject({ source: 'mnist', images: REF_COUNT });
    const [digits, noise] = r.folders as FolderResult[];
    console.info(
      `digits: FID ${digits.fid.toFixed(2)}, digit score ${digits.digitScore.toFixed(2)}, accuracy ${digits.accuracy}; ` +
        `noise: FID ${noise.fid.toFixed(2)}, digit score ${noise.digitScore.toFixed(2)}, accuracy ${noise.accuracy}`,
    );
    for (const f of [digits, noise]) {
      expect(f.images).toBe(10 * PER_CLASS);
      expect(f.predictions).toHaveLength(10 * PER_CLASS);
      expect([f.fid, f.digitScore, f.confidence].every(Number.isFinite)).toBe(true);
    }
    // Real digits: close to the reference, read as their folder's digit, all ten digits present.
    expect(digits.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(digits.digitScore).toBeGreaterThan(7); // at most 10 (ten equally frequent, confident classes)
    // Noise: far away, not read as the right digits, no spread of confident digits.
    expect(noise.accuracy).toBeLessThan(0.4);
    expect(noise.digitScore).toBeLessThan(3);
    expect(digits.fid * 10).toBeLessThan(noise.fid);
    // The predictions name the files and agree with the accuracy.
    const ok = digits.predictions.filter((p) => p.predicted === Number(p.file.split('/')[0])).length;
    expect(ok / digits.predictions.length).toBeCloseTo(digits.accuracy!, 10);

    // The FID is the metric of @var/metrics on the classifier's features (recomputed here from the files).
    const classifier = await DigitClassifier.load();
    try {
      const ds = await mnistDataset();
      const refImgs = await Promise.all(Array.from(mnistReferenceIndices(ds.length, REF_COUNT, 0), (i) => ds.get(i)));
      const imgs = await Promise.all(digits.predictions.map((p) => readImage(join(root, 'digits', p.file))));
      const feats = async (list: typeof imgs) => {
        const x = imagesToTensor(list, { channels: 1 });
        try {
          return (await classifier.extract(x)).features;
        } finally {
          x.dispose();
        }
      };
      const fid = fidFromFeatures(await feats(refImgs), refImgs.length, await feats(imgs), imgs.length, classifier.featureDim).fid;
      expect(Math.abs(fid - digits.fid) / fid).toBeLessThan(1e-4);
    } finally {
      classifier.dispose();
    }
  });
});
