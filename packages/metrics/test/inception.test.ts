import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { readFileSync } from 'node:fs';
import { compareArrays, formatReport } from '@var/test-helpers';
import { CheckpointError, ShapeError } from '../src/errors.js';
import { INCEPTION_CONVS, InceptionV3, inceptionStateDictShapes, type InceptionWeight } from '../src/inception.js';
import { computeStatsFromImages } from '../src/extractor.js';

let model: InceptionV3;
beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  model = await InceptionV3.random(1, { resizeTo: 75 });
});
afterAll(() => model.dispose());

describe('InceptionV3 (FID variant) architecture', () => {
  it('has the published state-dict keys and shapes', () => {
    const shapes = inceptionStateDictShapes();
    // 94 BasicConv2d (conv.weight + 4 bn tensors each) + fc
    expect(INCEPTION_CONVS.length).toBe(94);
    expect(shapes.size).toBe(94 * 5 + 2);
    const expected: Record<string, number[]> = {
      'Conv2d_1a_3x3.conv.weight': [32, 3, 3, 3],
      'Conv2d_2b_3x3.bn.running_mean': [64],
      'Conv2d_4a_3x3.conv.weight': [192, 80, 3, 3],
      'Mixed_5b.branch1x1.conv.weight': [64, 192, 1, 1],
      'Mixed_5b.branch_pool.conv.weight': [32, 192, 1, 1],
      'Mixed_5d.branch5x5_2.conv.weight': [64, 48, 5, 5],
      'Mixed_6a.branch3x3.conv.weight': [384, 288, 3, 3],
      'Mixed_6b.branch7x7_2.conv.weight': [128, 128, 1, 7],
      'Mixed_6e.branch7x7dbl_4.conv.weight': [192, 192, 7, 1],
      'Mixed_7a.branch7x7x3_4.conv.weight': [192, 192, 3, 3],
      'Mixed_7b.branch3x3_2b.conv.weight': [384, 384, 3, 1],
      'Mixed_7c.branch3x3dbl_1.conv.weight': [448, 2048, 1, 1],
      'Mixed_7c.branch_pool.bn.running_var': [192],
      'fc.weight': [1008, 2048],
      'fc.bias': [1008],
    };
    for (const [k, s] of Object.entries(expected)) expect(shapes.get(k), k).toEqual(s);
    // Trainable parameters (conv weights, bn weight/bias, fc) of torchvision's Inception3:
    // 27,161,264 with the aux head and 1000 classes; minus the aux head (3,326,696) and
    // with 1008 classes (+ 8·2048 + 8) = 23,850,960.
    let params = 0;
    for (const [k, s] of shapes) if (!k.includes('running_')) params += s.reduce((a, b) => a * b, 1);
    expect(params).toBe(23_850_960);
    expect([...shapes.keys()].filter((k) => k.startsWith('AuxLogits'))).toEqual([]);
  });

  it('random weights: 2048-d features and 1008 logits at a small input size, no leaked tensors', async () => {
    const x = tf.randomUniform([2, 3, 75, 75], -1, 1, 'float32', 3) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const out = await model.extract(x);
    expect(tf.memory().numTensors).toBe(before);
    expect(out.features.length).toBe(2 * 2048);
    expect(out.logits!.length).toBe(2 * 1008);
    expect(out.features.every(Number.isFinite)).toBe(true);
    expect(out.features.some((v) => v > 0)).toBe(true);
    expect(out.features.every((v) => v >= 0)).toBe(true); // mean of ReLU outputs
    const { features, logits } = model.forward(x);
    expect(features.shape).toEqual([2, 2048]);
    expect(logits.shape).toEqual([2, 1008]);
    tf.dispose([features, logits]);
    // streaming helper over two batches
    const r = await computeStatsFromImages(model, [x, x], { collectLogits: true });
    expect(r.count).toBe(4);
    expect(r.logits!.length).toBe(4 * 1008);
    expect(r.stats.mu().length).toBe(2048);
    expect(() => model.forward(tf.zeros([1, 1, 75, 75]) as tf.Tensor4D)).toThrow(ShapeError);
    x.dispose();
  });

  it('resizes to resizeTo before the network', async () => {
    expect(model.resizeTo).toBe(75);
    const x = tf.randomUniform([1, 3, 40, 52], -1, 1, 'float32', 4) as tf.Tensor4D;
    const out = await model.extract(x);
    expect(out.features.length).toBe(2048);
    x.dispose();
  });

  it('matches an independent numpy forward pass (formula weights, 75 px, resizeTo null)', async () => {
    const ref = JSON.parse(readFileSync(new URL('../test/fixtures/inception-formula.json', import.meta.url), 'utf8'));
    // the closed-form weights of scripts/inception-reference.py
    const h = (key: string) => 0.01 * [...key].reduce((a, c) => a + c.charCodeAt(0), 0);
    const sd = new Map<string, InceptionWeight>();
    for (const [key, shape] of inceptionStateDictShapes()) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      const hk = h(key);
      for (let i = 0; i < n; i++) {
        const s = Math.sin(0.37 * i + hk);
        let v: number;
        if (key.endsWith('conv.weight')) v = (s * 2) / Math.sqrt(n / shape[0]);
        else if (key.endsWith('bn.weight')) v = 1 + 0.1 * s;
        else if (key.endsWith('bn.bias') || key.endsWith('running_mean') || key === 'fc.bias') v = 0.1 * s;
        else if (key.endsWith('running_var')) v = 1.25 + 0.25 * s;
        else v = 0.05 * s; // fc.weight
        data[i] = v;
      }
      sd.set(key, { shape, data });
    }
    const net = await InceptionV3.fromStateDict(sd, { resizeTo: null });
    const [b, c, hh, ww] = ref.input_shape;
    const input = Float32Array.from({ length: b * c * hh * ww }, (_, j) => 0.9 * Math.sin(0.013 * j));
    const x = tf.tensor4d(input, [b, c, hh, ww]);
    const out = await net.extract(x);
    const rf = compareArrays(out.features, ref.features);
    const rl = compareArrays(out.logits!, ref.logits);
    const scaleF = Math.max(...ref.features.map(Math.abs));
    const scaleL = Math.max(...ref.logits.map(Math.abs));
    console.log(
      `InceptionV3 vs numpy: features max rel err ${(rf.maxAbs / scaleF).toExponential(2)}, logits ${(rl.maxAbs / scaleL).toExponential(2)}`,
    );
    expect(rf.maxAbs / scaleF, formatReport('features', rf)).toBeLessThan(1e-4);
    expect(rl.maxAbs / scaleL, formatReport('logits', rl)).toBeLessThan(1e-4);
    x.dispose();
    net.dispose();
  });

  it('TensorFlow-style average pool excludes padding (count_include_pad=False)', () => {
    const x = tf.ones([1, 3, 3, 1]) as tf.Tensor4D;
    const y = tf.avgPool(x, 3, 1, 'same');
    expect(Array.from(y.dataSync())).toEqual(new Array(9).fill(1));
    tf.dispose([x, y]);
  });

  it('clear errors: missing weights file, mismatched state dict', async () => {
    await expect(InceptionV3.load('/nonexistent/pt_inception-2015-12-05.safetensors')).rejects.toThrow(CheckpointError);
    await expect(InceptionV3.load('/nonexistent/pt_inception-2015-12-05.safetensors')).rejects.toThrow(
      /not found.*pt_inception-2015-12-05-6726825d\.pth/s,
    );
    const sd = new Map<string, InceptionWeight>();
    for (const [k, s] of inceptionStateDictShapes()) sd.set(k, { shape: s, data: new Float32Array(s.reduce((a, b) => a * b, 1)) });
    sd.delete('Mixed_6c.branch7x7_1.conv.weight');
    sd.set('fc.bias', { shape: [1000], data: new Float32Array(1000) });
    sd.set('AuxLogits.fc.weight', { shape: [1, 1], data: new Float32Array(1) });
    const err = await InceptionV3.fromStateDict(sd).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(/missing \(1\): Mixed_6c\.branch7x7_1\.conv\.weight/);
    expect(err.message).toMatch(/mis-shaped \(1\): fc\.bias \[1000\] \(expected \[1008\]\)/);
    expect(err.message).toMatch(/unexpected \(1\): AuxLogits\.fc\.weight/);
  });
});
