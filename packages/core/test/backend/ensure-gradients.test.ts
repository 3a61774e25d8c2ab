import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { ensureGradients, gradientsRegistered, initBackend } from '../../src/index.js';

describe('ensureGradients', () => {
  it('registers tfjs-core gradients once, idempotently', async () => {
    await initBackend('cpu');
    await Promise.all([ensureGradients(), ensureGradients()]);
    expect(gradientsRegistered()).toBe(true);
    const before = tf.memory().numTensors;
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(tf.square(x)))(tf.tensor1d([1, -2, 3])));
    expect(Array.from(await g.data())).toEqual([2, -4, 6]);
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
