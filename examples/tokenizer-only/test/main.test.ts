import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStateDict } from '@var/checkpoint';
import { initBackend } from '@var/core';
import { decodeImage, imageToTensor, tensorToImages } from '@var/data';
import { listModels } from '@var/models';
import { VQVAE, fromOfficialConfig } from '@var/tokenizer';
import { fixtureDir, loadFixtureCase } from '@var/test-helpers';

const here = join(dirname(fileURLToPath(import.meta.url)), '..'); // the example's folder
const run = promisify(execFile);

/** The example's one command, in a child process (plain Node, the packages' dist/). */
async function runExample(args: string[]) {
  const t0 = performance.now();
  const { stdout } = await run(process.execPath, [join(here, 'main.mjs'), '--backend', 'wasm', ...args], {
    cwd: here,
    env: { ...process.env, VAR_WASM_THREADS: '1' },
  });
  return { stdout, seconds: (performance.now() - t0) / 1000 };
}

interface Summary {
  imageSize: number;
  channels: number;
  patchNums: number[];
  input_png: string;
  grid_png: string;
  scales: { si: number; pn: number; tokens: number[]; latentRelError: number; imageMse: number; file: string }[];
}

const outs: string[] = [];
function tempDir() {
  const d = mkdtempSync(join(tmpdir(), 'var-example-tokenizer-'));
  outs.push(d);
  return d;
}

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
});
afterAll(() => {
  for (const d of outs) rmSync(d, { recursive: true, force: true });
});

describe('tokenizer-only example', () => {
  it('writes per-scale reconstructions of an image tokenized by the fixture tokenizer', async () => {
    const fc = loadFixtureCase();
    const out = tempDir();
    const { stdout, seconds } = await runExample(['--tokenizer', fixtureDir(), '--emoji', '0', '--out', out]);
    console.info(`tokenizer-only (fixture tokenizer): ${seconds.toFixed(1)} s`);
    expect(stdout).toContain('wrote');
    const s: Summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));

    // The same tokenizer, loaded here from the packages' sources.
    const cfg = fromOfficialConfig(fc.config.VQVAE);
    const vae = VQVAE.fromStateDict(await loadStateDict(fc.path('vae.safetensors')), cfg);
    try {
      const size = vae.imageSize;
      const C = cfg.inChannels;
      expect(s.patchNums).toEqual(cfg.vPatchNums);
      expect(s.imageSize).toBe(size);
      expect(s.scales.map((x) => x.pn)).toEqual(cfg.vPatchNums);

      // Every PNG exists, decodes, and has the tokenizer's size and channel count.
      const pngs = [s.input_png, ...s.scales.map((x) => x.file)].map((f) => {
        const p = join(out, f);
        expect(existsSync(p), p).toBe(true);
        return decodeImage(readFileSync(p), { source: p });
      });
      for (const im of pngs) {
        expect([im.width, im.height, im.channels]).toEqual([size, size, C]);
      }
      const grid = decodeImage(readFileSync(join(out, s.grid_png)));
      expect(grid.width).toBeGreaterThan((cfg.vPatchNums.length + 1) * size);

      // The tokens are the tokenizer's tokens of the input picture, scale by scale.
      const x = imageToTensor(pngs[0], { channels: C, size });
      const idx = vae.imgToIdx(x);
      for (let si = 0; si < idx.length; si++) {
        expect(s.scales[si].tokens.length).toBe(cfg.vPatchNums[si] ** 2);
        expect(s.scales[si].tokens).toEqual(Array.from(idx[si].dataSync()));
      }
      // The last PNG is the full reconstruction decoded from those tokens (8-bit rounding aside).
      const full = vae.idxToImg(idx);
      const [ref] = await tensorToImages(full);
      const last = pngs[pngs.length - 1];
      let maxDiff = 0;
      for (let i = 0; i < ref.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ref.data[i] - last.data[i]));
      expect(maxDiff).toBeLessThanOrEqual(1);
      // Each scale adds detail: the reconstructions of the first and last scales differ.
      let changed = 0;
      for (let i = 0; i < last.data.length; i++) if (last.data[i] !== pngs[1].data[i]) changed++;
      expect(changed).toBeGreaterThan(last.data.length / 10);
      tf.dispose([x, full, ...idx]);
    } finally {
      vae.dispose();
    }

    // Residual quantisation: the latent after all scales is closer to the encoder's f than after the first.
    const err = s.scales.map((x) => x.latentRelError);
    expect(err.every(Number.isFinite)).toBe(true);
    expect(err[err.length - 1]).toBeLessThan(err[0]);
  });

  it('with the shipped MNIST tokenizer (when bundled), later scales reconstruct the digit better', async (ctx) => {
    const mnist = (await listModels()).find((m) => m.id === 'mnist');
    if (!mnist?.bundled) {
      ctx.skip(); // the shipped model is not in this checkout yet
      return;
    }
    const dir = join(here, '..', '..', 'packages', 'models', 'weights', 'mnist');
    const out = tempDir();
    const { seconds } = await runExample(['--tokenizer', dir, '--digit', '7', '--out', out]);
    console.info(`tokenizer-only (shipped MNIST tokenizer): ${seconds.toFixed(1)} s`);
    const s: Summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(s.channels).toBe(1);
    const mse = s.scales.map((x) => x.imageMse);
    console.info(`per-scale image MSE: ${mse.map((m) => m.toFixed(4)).join(', ')}`);
    expect(mse[mse.length - 1]).toBeLessThan(0.5 * mse[0]);
    const lat = s.scales.map((x) => x.latentRelError);
    expect(lat[lat.length - 1]).toBeLessThan(lat[0]);
  });
});
