import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { AdamW, clipGradNorm, CheckpointError, initBackend } from '../../src/index.js';

/** torch.optim.AdamW on one scalar, written out. */
function reference(p0: number, grads: number[], lr: number, wd: number, b1: number, b2: number, eps: number): number {
  let p = p0,
    m = 0,
    v = 0;
  grads.forEach((g, i) => {
    const t = i + 1;
    p *= 1 - lr * wd;
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    p -= (lr / (1 - b1 ** t)) * (m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** t) + eps));
  });
  return p;
}

describe('AdamW', () => {
  it('equals torch.optim.AdamW, honours the wd scale, and restores its state exactly', async () => {
    await initBackend('cpu');
    const before = tf.memory().numTensors;
    // tidy frees the initial values; variables survive it.
    const vars = tf.tidy(
      () =>
        new Map([
          ['w', tf.variable(tf.tensor1d([0.5, -1]))],
          ['b', tf.variable(tf.tensor1d([0.25]))],
        ]) as never,
    ) as Map<string, tf.Variable>;
    const opt = new AdamW(vars, { betas: [0.9, 0.95], wdScale: (n) => (n === 'b' ? 0 : 1) });
    const gs = [
      [0.3, -0.2, 0.1],
      [1, 0.5, -2],
    ];
    for (let i = 0; i < 3; i++) {
      const grads = new Map([
        ['w', tf.tensor1d([gs[0][i], gs[1][i]])],
        ['b', tf.tensor1d([gs[0][i]])],
      ]);
      opt.step(grads, 0.1, 0.05);
      tf.dispose([...grads.values()]);
    }
    const w = await vars.get('w')!.data();
    expect(w[0]).toBeCloseTo(reference(0.5, gs[0], 0.1, 0.05, 0.9, 0.95, 1e-8), 6);
    expect(w[1]).toBeCloseTo(reference(-1, gs[1], 0.1, 0.05, 0.9, 0.95, 1e-8), 6);
    expect((await vars.get('b')!.data())[0]).toBeCloseTo(reference(0.25, gs[0], 0.1, 0, 0.9, 0.95, 1e-8), 6);

    const state = opt.getState();
    expect(state.step).toBe(3);
    const vars2 = tf.tidy(
      () =>
        new Map([
          ['w', tf.variable(tf.zeros([2]))],
          ['b', tf.variable(tf.zeros([1]))],
        ]) as never,
    ) as Map<string, tf.Variable>;
    const opt2 = new AdamW(vars2);
    opt2.setState(state);
    expect(opt2.getState().tensors.get('m.w')!.data).toEqual(state.tensors.get('m.w')!.data);
    expect(() => opt2.setState({ step: 1, tensors: new Map() })).toThrow(CheckpointError);

    const g = new Map([['a', tf.tensor1d([3, 4])]]);
    expect(clipGradNorm(g, 1)).toBeCloseTo(5, 5);
    expect(Array.from(await g.get('a')!.data()).map((x) => +x.toFixed(4))).toEqual([0.6, 0.8]);
    tf.dispose([...g.values(), ...vars.values(), ...vars2.values()]);
    opt.dispose();
    opt2.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
