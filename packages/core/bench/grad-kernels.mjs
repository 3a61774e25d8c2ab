#!/usr/bin/env node
// Benchmark: the wasm gradient kernels @var/core registers (initBackend('wasm')) against the
// model-code workarounds they replaced, at the sizes the MNIST models train at, in one process
// (1 thread), interleaved, median of --reps:
//
//  - conv2d backprops (MNIST tokenizer, batch 8): tfjs-core's conv2d gradient (→ core's
//    Conv2DBackpropInput / Conv2DBackpropFilter kernels) vs the custom-gradient conv the
//    tokenizer had (input gradient as a forward conv, zero-interleaved dy at stride 2; filter
//    gradient as one 1×1 conv per tap when the map is large).
//  - matMul gradients (MNIST VAR d4 w128 B16 L=130 and the mid d6 w384 B8): tfjs-core's
//    BatchMatMul gradient (transposed products → core's BatchMatMul kernel) vs the transformer's
//    former custom gradient that materialised the transposes with tf.transpose.
//
//   node bench/grad-kernels.mjs [--reps 7]          # after `pnpm build`
//
// Prints, per shape, both times in ms and the ratio kernel / workaround (< 1: the kernel is
// faster), and the totals weighted by how often each shape occurs in one training step.
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCommand, positiveArg } from '../../../tooling/script-args.mjs';

const USAGE = `usage: node bench/grad-kernels.mjs [--reps 7]

wasm (1 thread) gradients through @var/core's kernels vs the model-code custom gradients they
replaced, at the MNIST tokenizer / VAR training shapes; prints ms and ratios. Needs dist/ (pnpm build).`;
const o = parseCommand(USAGE, { reps: { type: 'string', default: '7' } }).values;
const reps = positiveArg(USAGE, 'reps', o.reps);

const here = dirname(fileURLToPath(import.meta.url));
const { ensureGradients, initBackend } = await import(pathToFileURL(join(here, '..', 'dist', 'index.js')).href);
const tf = await import('@tensorflow/tfjs-core');
await ensureGradients();
await initBackend('wasm', { threads: 1 });

const padArg = (p) =>
  p === 0
    ? 'valid'
    : [
        [0, 0],
        [p, p],
        [p, p],
        [0, 0],
      ];

/** The tokenizer's former custom-gradient conv (k×k, stride 1 or 2, symmetric padding). */
function workaroundConv(stride, pad) {
  return tf.customGrad((x, w, save) => {
    save([x, w]);
    return {
      value: tf.conv2d(x, w, stride, padArg(pad)),
      gradFunc: (dy, [xs, ws]) => {
        const [B, H, W, I] = xs.shape;
        const [k, , , O] = ws.shape;
        const [, Ho, Wo] = dy.shape;
        const [Hp, Wp] = [H + 2 * pad, W + 2 * pad];
        const wRot = tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]);
        let dxp;
        if (stride === 1) dxp = tf.conv2d(dy, wRot, 1, padArg(k - 1));
        else {
          const a = tf.concat([tf.reshape(dy, [B * Ho, Wo, 1, O]), tf.zeros([B * Ho, Wo, 1, O])], 2);
          const r = tf.reshape(a, [B * Ho, 1, 2 * Wo * O]);
          const z = tf.reshape(tf.concat([r, tf.zeros([B * Ho, 1, 2 * Wo * O])], 1), [B, 2 * Ho, 2 * Wo, O]);
          const zp = tf.pad(z, [
            [0, 0],
            [k - 1, Hp - 2 * Ho],
            [k - 1, Wp - 2 * Wo],
            [0, 0],
          ]);
          dxp = tf.conv2d(zp, wRot, 1, 'valid');
        }
        const dx = pad === 0 ? dxp : tf.slice(dxp, [0, pad, pad, 0], [B, H, W, I]);
        const xp = pad === 0 ? xs : tf.pad(xs, padArg(pad));
        let dw;
        if (Ho * Wo <= 256 || B >= 16) {
          let c = tf.conv2d(tf.transpose(xp, [3, 1, 2, 0]), tf.transpose(dy, [1, 2, 0, 3]), 1, 'valid', 'NHWC', stride);
          if (c.shape[1] !== k || c.shape[2] !== k) c = tf.slice(c, [0, 0, 0, 0], [I, k, k, O]);
          dw = tf.transpose(c, [1, 2, 0, 3]);
        } else {
          const N = B * Ho * Wo;
          const xT = tf.transpose(xp, [3, 0, 1, 2]);
          const d2 = tf.reshape(dy, [1, 1, N, O]);
          const taps = [];
          for (let kh = 0; kh < k; kh++)
            for (let kw = 0; kw < k; kw++) {
              const sl =
                stride === 1
                  ? tf.slice(xT, [0, 0, kh, kw], [I, B, Ho, Wo])
                  : tf.stridedSlice(
                      xT,
                      [0, 0, kh, kw],
                      [I, B, kh + stride * (Ho - 1) + 1, kw + stride * (Wo - 1) + 1],
                      [1, 1, stride, stride],
                    );
              taps.push(tf.reshape(tf.conv2d(tf.reshape(sl, [1, 1, I, N]), d2, 1, 'valid'), [I, O]));
            }
          dw = tf.reshape(tf.stack(taps), [k, k, I, O]);
        }
        return [dx, dw];
      },
    };
  });
}

/** The transformer's former matMul with a custom gradient that materialised the transposes. */
const workaroundMatMul = tf.customGrad((a, b, save) => {
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy, [sa, sb]) => [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)],
  };
});

const median = (v) => v.slice().sort((p, q) => p - q)[v.length >> 1];
function timeGrads(g, args) {
  const t = performance.now();
  const r = g(args);
  for (const x of r) x.dataSync();
  const ms = performance.now() - t;
  tf.dispose(r);
  return ms;
}
function compare(label, count, inputs, plain, workaround) {
  const gK = tf.grads((...xs) => tf.sum(plain(...xs)));
  const gW = tf.grads((...xs) => tf.sum(workaround(...xs)));
  tf.dispose([...gK(inputs), ...gW(inputs)]); // warm-up (XNNPACK operator caches)
  const tK = [];
  const tW = [];
  for (let r = 0; r < reps; r++) {
    tK.push(timeGrads(gK, inputs));
    tW.push(timeGrads(gW, inputs));
  }
  const [k, w] = [median(tK), median(tW)];
  console.log(
    `${label.padEnd(40)} kernel ${k.toFixed(2).padStart(8)} ms  workaround ${w.toFixed(2).padStart(8)} ms  ratio ${(k / w).toFixed(2)}`,
  );
  return [k * count, w * count];
}
function section(name, rows) {
  const [k, w] = rows.reduce((s, r) => [s[0] + r[0], s[1] + r[1]], [0, 0]);
  console.log(`${name}: per step kernel ${k.toFixed(0)} ms, workaround ${w.toFixed(0)} ms, ratio ${(k / w).toFixed(2)}\n`);
}

// [x shape, k, out channels, stride, pad, occurrences per step] of the MNIST tokenizer
// ('{"vocabSize":512,"zChannels":8,"ch":32,"chMult":[1,2,2],"vPatchNums":[1,2,3,4,6,8],"inChannels":1}', batch 8)
const convs = [
  [[8, 32, 32, 32], 3, 32, 1, 1, 9],
  [[8, 16, 16, 64], 3, 64, 1, 1, 10],
  [[8, 8, 8, 64], 3, 64, 1, 1, 18],
  [[8, 33, 33, 32], 3, 32, 2, 0, 1],
  [[8, 17, 17, 64], 3, 64, 2, 0, 1],
  [[8, 32, 32, 32], 3, 64, 1, 1, 1],
  [[8, 32, 32, 1], 3, 32, 1, 1, 1],
];
const convRows = [];
for (const [xs, k, co, s, p, count] of convs) {
  const x = tf.randomNormal(xs);
  const w = tf.randomNormal([k, k, xs[3], co], 0, 0.1);
  const wk = workaroundConv(s, p);
  convRows.push(
    compare(
      `conv ${JSON.stringify(xs)} k${k}→${co} s${s}`,
      count,
      [x, w],
      (a, b) => tf.conv2d(a, b, s, padArg(p)),
      (a, b) => wk(a, b),
    ),
  );
  tf.dispose([x, w]);
}
section('MNIST tokenizer conv gradients', convRows);

// [M, K, N, occurrences per step]: linear layers (rows = B·L) and per-head attention products
const mms = {
  'MNIST VAR d4 w128 B16': [
    [2080, 128, 384, 4],
    [2080, 128, 128, 4],
    [2080, 128, 512, 4],
    [2080, 512, 128, 4],
    [16, 128, 768, 5],
    [130, 32, 130, 256],
    [130, 130, 32, 256],
  ],
  'mid VAR d6 w384 B8': [
    [1040, 384, 1152, 6],
    [1040, 384, 384, 6],
    [1040, 384, 1536, 6],
    [1040, 1536, 384, 6],
    [130, 64, 130, 288],
    [130, 130, 64, 288],
  ],
};
for (const [name, shapes] of Object.entries(mms)) {
  const rows = [];
  for (const [M, K, N, count] of shapes) {
    const a = tf.randomNormal([M, K]);
    const b = tf.randomNormal([K, N]);
    rows.push(
      compare(
        `matMul ${M}×${K}×${N}`,
        count,
        [a, b],
        (p, q) => tf.matMul(p, q),
        (p, q) => workaroundMatMul(p, q),
      ),
    );
    tf.dispose([a, b]);
  }
  section(`${name} matMul gradients`, rows);
}
