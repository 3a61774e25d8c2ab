/**
 * The `onPhase` timing hook: every phase of every scale reported once, in order, with finite
 * non-negative times; results identical with and without it; no tensor leaks (also when the
 * callback throws).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ValueError } from '@var/core';
import { loadFixtureCase } from '@var/test-helpers';
import { edit, generate, type GenerateResult, type PhaseTiming } from '../src/index.js';
import { useBackend } from './backend.js';
import { loadModels, type Models } from './models.js';

const fc = loadFixtureCase();
const patchNums: number[] = fc.config.VAR.patch_nums;
const S = patchNums.length;
const labels = Int32Array.from(fc.ref('label').data as Int32Array);

let m: Models;
beforeAll(async () => {
  if (await useBackend('wasm')) expect(await useBackend('cpu')).toBeNull();
  m = await loadModels(fc);
});
afterAll(() => m?.dispose());

const freeResult = (r: GenerateResult) => tf.dispose([r.fHat, ...(r.images ? [r.images] : [])]);

function expectedOrder(decode: boolean): string[] {
  const order: string[] = [];
  for (let si = 0; si < S; si++) order.push(`transformer:${si}`, `sampling:${si}`);
  if (decode) order.push('decode:null');
  return order;
}

describe('onPhase', () => {
  it('reports transformer and sampling per scale, then decode, in order; same tokens and image as without it; no leaks', async () => {
    const opts = { labels, cfg: 2, topK: 8, topP: 0.9, seed: 21 };
    const plain = await generate(m.vae, m.model, opts);
    const before = tf.memory().numTensors;
    const phases: PhaseTiming[] = [];
    const scaleOrder: string[] = [];
    const timed = await generate(m.vae, m.model, {
      ...opts,
      onPhase: (p) => {
        phases.push(p);
        scaleOrder.push(`phase ${p.phase}`);
      },
      onScale: (e) => void scaleOrder.push(`scale ${e.si}`),
    });
    expect(phases.map((p) => `${p.phase}:${p.si}`)).toEqual(expectedOrder(true));
    for (const p of phases) {
      expect(Number.isFinite(p.ms)).toBe(true);
      expect(p.ms).toBeGreaterThanOrEqual(0);
    }
    // both phases of a scale are reported before that scale's onScale event
    expect(scaleOrder.slice(0, 3)).toEqual(['phase transformer', 'phase sampling', 'scale 0']);
    timed.tokens.forEach((t, si) => expect(Array.from(t)).toEqual(Array.from(plain.tokens[si])));
    expect(Array.from(await timed.images!.data())).toEqual(Array.from(await plain.images!.data()));
    freeResult(timed);
    expect(tf.memory().numTensors).toBe(before);
    freeResult(plain);
  });

  it('has no decode phase with decode: false; works in edits', async () => {
    const before = tf.memory().numTensors;
    const runs: [string, (on: (p: PhaseTiming) => void) => Promise<GenerateResult>, boolean][] = [
      ['decode false', (onPhase) => generate(m.vae, m.model, { labels, seed: 1, decode: false, onPhase }), false],
      [
        'edit',
        (onPhase) =>
          edit(m.vae, m.model, {
            labels,
            seed: 1,
            inputTokens: patchNums.map((pn) => new Int32Array(labels.length * pn * pn)),
            mask: { y0: 0, x0: 0, y1: 0.5, x1: 1 },
            onPhase,
          }),
        true,
      ],
    ];
    for (const [name, go, decode] of runs) {
      const phases: PhaseTiming[] = [];
      const r = await go((p) => phases.push(p));
      expect(
        phases.map((p) => `${p.phase}:${p.si}`),
        name,
      ).toEqual(expectedOrder(decode));
      freeResult(r);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('an onPhase that throws stops generation and frees every tensor; a non-function is a ValueError', async () => {
    const before = tf.memory().numTensors;
    for (const at of ['transformer', 'sampling', 'decode'] as const) {
      const boom = new Error(`stop at ${at}`);
      await expect(
        generate(m.vae, m.model, {
          labels,
          seed: 2,
          onPhase: (p) => {
            if (p.phase === at && (p.si === null || p.si === S - 1)) throw boom;
          },
        }),
      ).rejects.toBe(boom);
      expect(tf.memory().numTensors, at).toBe(before);
    }
    await expect(generate(m.vae, m.model, { labels, onPhase: 5 as never })).rejects.toBeInstanceOf(ValueError);
  });
});
