/** loadModel with the user's Files (a browser's <input type=file>, here Node's File): progress and errors name the files. */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, initBackend } from '@var/core';
import { loadFixtureCase } from '@var/test-helpers';
import { loadModel, type LoadProgress } from '../src/index.js';

const fc = loadFixtureCase();

beforeAll(async () => {
  await initBackend('cpu');
});

describe('loadModel from Files', () => {
  it('loads .pth Files with a config, reporting each file by name, and frees nothing it keeps', async () => {
    const vae = new File([readFileSync(fc.path('vae.pth'))], 'vae_tiny.pth');
    const vr = new File([readFileSync(fc.path('var.pth'))], 'var_tiny.pth');
    const before = tf.memory().numTensors;
    const events: LoadProgress[] = [];
    const m = await loadModel({ vae, var: vr, config: fc.config }, { onProgress: (p) => events.push(p) });
    try {
      const byFile = new Map<string, number>();
      for (const e of events) if (e.file && e.loaded !== undefined) byFile.set(e.file, Math.max(byFile.get(e.file) ?? 0, e.loaded));
      expect([...byFile.keys()]).toEqual(['vae_tiny.pth', 'var_tiny.pth']);
      expect(byFile.get('var_tiny.pth')).toBeGreaterThan(vr.size / 2);
      expect(byFile.get('var_tiny.pth')).toBeLessThanOrEqual(vr.size);
      const ref = await loadModel({ vae: fc.path('vae.pth'), var: fc.path('var.pth'), config: fc.config });
      try {
        const a = m.var.stateDict().get('head.weight')!;
        const b = ref.var.stateDict().get('head.weight')!;
        expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
      } finally {
        ref.vae.dispose();
        ref.var.dispose();
      }
    } finally {
      m.vae.dispose();
      m.var.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a truncated File is a CheckpointError naming it (not "checkpoint bytes"), with no tensors left over', async () => {
    const bytes = readFileSync(fc.path('var.pth'));
    const before = tf.memory().numTensors;
    const err = await loadModel({
      vae: new File([readFileSync(fc.path('vae.pth'))], 'vae.pth'),
      var: new File([bytes.subarray(0, bytes.length >> 1)], 'var_cut.pth'),
      config: fc.config,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/^var_cut\.pth: /);
    expect(tf.memory().numTensors).toBe(before);
  });
});
