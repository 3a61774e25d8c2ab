import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFloat32Array } from '@var/checkpoint';
import { initBackend } from '@var/core';
import { cardFromConfig, disposeModel, listModels, loadModel, resolveModelConfig, saveModel } from '@var/models';
import { VQVAE } from '@var/tokenizer';
import { VAR } from '@var/transformer';
import { loadFixtureCase } from '@var/test-helpers';
import { recipeLabelSmoothing, writeDemoFolder } from '../main.mjs';

const here = join(dirname(fileURLToPath(import.meta.url)), '..'); // the example's folder
const exec = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'var-example-finetune-'));
const STEPS = 6;

/** 'mnist' when the shipped model is bundled, else a tiny random model (the fixture case's configs) saved with saveModel. */
let model: string;
let which: string;

beforeAll(async () => {
  await initBackend('wasm', { threads: 1 });
  const mnist = (await listModels()).find((m) => m.id === 'mnist');
  if (mnist?.bundled) {
    model = 'mnist';
    which = 'the shipped MNIST model';
  } else {
    const cfg = resolveModelConfig(loadFixtureCase().config);
    const vae = VQVAE.create(cfg.tokenizer, { seed: 1 });
    const v = VAR.create(cfg.var, { seed: 2 });
    model = join(root, 'base-model');
    await saveModel(model, { vae, var: v, card: cardFromConfig(cfg, 'tiny-random') });
    vae.dispose();
    v.dispose();
    which = 'a tiny random model with the fixture case configs (the MNIST model is not bundled here)';
  }
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, v) => s + v * v, 0));

describe('finetune-folder example', () => {
  it('fine-tunes on a folder of images: the loss goes down and the saved model loads back with new weights', async () => {
    const base = await loadModel(model);
    const { numClasses } = base.var.config;
    const classes = numClasses > 7 ? [3, 7] : [0, numClasses - 1];
    const folder = await writeDemoFolder(join(root, 'folder'), { classes, perClass: 4, size: base.vae.imageSize });
    const out = join(root, 'finetuned');
    const t0 = performance.now();
    const { stdout } = await exec(
      process.execPath,
      [
        join(here, 'main.mjs'),
        folder,
        '--model',
        model,
        '--steps',
        String(STEPS),
        '--batch',
        '4',
        '--lr',
        '1e-3',
        '--out',
        out,
        '--backend',
        'wasm',
      ],
      { cwd: here, env: { ...process.env, VAR_WASM_THREADS: '1' } },
    );
    const s = JSON.parse(readFileSync(join(out, 'finetune-summary.json'), 'utf8'));
    console.info(
      `finetune-folder on ${which}: ${STEPS} steps, ${((performance.now() - t0) / 1000).toFixed(1)} s; losses ${s.losses.map((l: number) => l.toFixed(3)).join(' ')}; folder loss ${s.folderLossBefore.toFixed(4)} → ${s.folderLossAfter.toFixed(4)}`,
    );
    expect(stdout).toContain('saved');

    // Labels come from the sub-folder names; the loss goes down.
    expect(s.images).toBe(8);
    expect(s.labels).toEqual(classes);
    expect(s.losses).toHaveLength(STEPS);
    expect(s.losses.every(Number.isFinite)).toBe(true);
    expect(s.losses[STEPS - 1]).toBeLessThan(s.losses[0]);
    expect(s.folderLossAfter).toBeLessThan(s.folderLossBefore);
    // Fine-tuned with the base model's own label smoothing (0.1 when its card has no recipe).
    expect(s.labelSmoothing).toBe(recipeLabelSmoothing(base.card) ?? 0.1);

    // The saved model loads back with every tool's loader, with fine-tuned transformer weights.
    const tuned = await loadModel(out);
    try {
      expect(tuned.card.id).toBe(`${base.card.id}-finetuned`);
      expect(tuned.card.classNames).toEqual(base.card.classNames);
      expect(tuned.var.config).toEqual(base.var.config);
      const trainable = base.var.trainableVariables(); // parameters only (buffers such as the −∞ attention mask are not trained)
      const before = new Map([...base.var.stateDict()].filter(([k]) => trainable.has(k)));
      const after = tuned.var.stateDict();
      let changed = 0;
      let biggest = 0;
      for (const [k, t] of before) {
        const a = toFloat32Array(t);
        const b = toFloat32Array(after.get(k)!);
        const d = norm(a.map((v, i) => v - b[i])) / Math.max(norm(a), 1e-12);
        if (d > 1e-3) changed++; // beyond float16 rounding (≈ 5e-4 relative)
        biggest = Math.max(biggest, d);
      }
      console.info(`${changed} of ${before.size} transformer tensors changed; largest relative change ${biggest.toFixed(4)}`);
      expect(changed).toBeGreaterThan(before.size / 2);
      // The tokenizer is not trained: equal up to the float16 storage.
      const vaeAfter = tuned.vae.stateDict();
      for (const [k, t] of base.vae.stateDict()) {
        const a = toFloat32Array(t as never);
        const b = toFloat32Array(vaeAfter.get(k)! as never);
        const d = norm(a.map((v, i) => v - b[i])) / Math.max(norm(a), 1e-12);
        expect(d, k).toBeLessThan(1e-3);
      }
    } finally {
      disposeModel(tuned);
      disposeModel(base);
    }
  });
});
