import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@var/core';
import { decodeImage } from '@var/data';
import { disposeModel, loadModel, type LoadedModel } from '@var/models';
import { generate } from '@var/sampling';
import { fixtureDir, loadFixtureCase } from '@var/test-helpers';
// The example's loop itself, imported (with the packages' sources) for the in-process checks.
import { SCHEDULES, sampleWithSchedule } from '../main.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..'); // the example's folder
const exec = promisify(execFile);
const out = mkdtempSync(join(tmpdir(), 'var-example-sampling-'));

interface Summary {
  labels: number[];
  cfg: number;
  seed: number;
  patchNums: number[];
  schedules: Record<string, { guidance: number[]; tokens: number[][]; file: string }>;
}

let m: LoadedModel;
beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  const fc = loadFixtureCase();
  m = await loadModel({ vae: fc.path('vae.safetensors'), var: fc.path('var.safetensors'), config: fc.config });
});
afterAll(() => {
  if (m) disposeModel(m);
  rmSync(out, { recursive: true, force: true });
});

const cfg = 4;
const seed = 11;
const sameTokens = (a: ArrayLike<number>[], b: ArrayLike<number>[]) =>
  a.length === b.length && a.every((t, i) => Array.from(t).join() === Array.from(b[i]).join());

describe('custom-sampling example', () => {
  it('the command samples with every schedule; the official ramp reproduces generate, others differ', async () => {
    const labels = [0, Math.min(3, m.var.config.numClasses - 1), m.var.config.numClasses - 1];
    const t0 = performance.now();
    const { stdout } = await exec(
      process.execPath,
      [
        join(here, 'main.mjs'),
        '--fixture',
        fixtureDir(),
        '--backend',
        'wasm',
        '--labels',
        labels.join(','),
        '--cfg',
        String(cfg),
        '--seed',
        String(seed),
        '--out',
        out,
      ],
      { cwd: here, env: { ...process.env, VAR_WASM_THREADS: '1' } },
    );
    console.info(`custom-sampling command (4 schedules, ${labels.length} images each): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    expect(stdout).toContain('schedules.png');
    const s: Summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const S = m.var.config.patchNums.length;
    expect(Object.keys(s.schedules).sort()).toEqual(Object.keys(SCHEDULES).sort());

    // Guidance per scale as the schedules say.
    expect(s.schedules.official.guidance).toEqual(Array.from({ length: S }, (_, si) => (cfg * si) / (S - 1)));
    expect(s.schedules.constant.guidance).toEqual(new Array(S).fill(cfg));

    // Tokens have the right count and range at every scale.
    const V = m.var.config.vocabSize;
    for (const r of Object.values(s.schedules)) {
      expect(r.tokens.map((t) => t.length)).toEqual(m.var.config.patchNums.map((pn) => labels.length * pn * pn));
      expect(r.tokens.flat().every((v) => Number.isInteger(v) && v >= 0 && v < V)).toBe(true);
      const png = decodeImage(readFileSync(join(out, r.file)));
      expect(png.width).toBeGreaterThan(labels.length * m.vae.imageSize);
    }
    expect(existsSync(join(out, 'schedules.png'))).toBe(true);

    // The official schedule gives exactly @var/sampling's generate tokens (same seed, same cfg).
    const ref = await generate(m.vae, m.var, { labels, cfg, seed, decode: false });
    ref.fHat.dispose();
    expect(sameTokens(s.schedules.official.tokens, ref.tokens)).toBe(true);
    // The other schedules guide differently: their tokens differ from generate's.
    for (const name of ['constant', 'late', 'early']) {
      expect(sameTokens(s.schedules[name].tokens, ref.tokens), name).toBe(false);
    }
  });

  it('in process: equal to generate for several seeds and top-k, no tensors left behind', async () => {
    const before = tf.memory().numTensors;
    const labels = [1, 2];
    for (const [sd, topK] of [
      [0, 0],
      [5, 3],
    ]) {
      const mine = await sampleWithSchedule(m.vae, m.var, { labels, cfg: 1.5, schedule: 'official', seed: sd, topK });
      const ref = await generate(m.vae, m.var, { labels, cfg: 1.5, seed: sd, topK });
      expect(sameTokens(mine.tokens, ref.tokens)).toBe(true);
      // Same tokens → the same image (generate returns [0, 1], the example [-1, 1]).
      const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(tf.mul(tf.add(mine.images!, 1), 0.5), ref.images!))).dataSync()[0]);
      expect(diff).toBeLessThan(1e-5);
      tf.dispose([mine.images!, ref.images!, ref.fHat]);
    }
    // A schedule given as a function: cfg 0 everywhere equals generate with cfg 0.
    const none = await sampleWithSchedule(m.vae, m.var, { labels, cfg: 3, schedule: () => 0, seed: 2, decode: false });
    const ref0 = await generate(m.vae, m.var, { labels, cfg: 0, seed: 2, decode: false });
    ref0.fHat.dispose();
    expect(sameTokens(none.tokens, ref0.tokens)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });
});
