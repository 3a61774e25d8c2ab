await (await import('@var/core')).ensureGradients();
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VAR, lossGrads } = await import('@var/transformer');
await initBackend('wasm', { threads: 1 });
const be = tf.backend();
const orig = be.makeOutput.bind(be);
let maxBytes = 0;
be.makeOutput = (shape, dtype, memoryOffset, values) => {
  const n = shape.reduce((a, b) => a * b, 1) * 4;
  const held = tf.memory().numBytes;

  if (held > maxBytes + 256 * 2 ** 20 || n > 50e6) console.log('big output', shape, dtype, (n / 2 ** 20).toFixed(0), 'MiB; held', (held / 2 ** 20).toFixed(0), 'MiB');
  if (held > maxBytes) maxBytes = held;
  return orig(shape, dtype, memoryOffset, values);
};
const B = Number(process.argv[2] ?? 16);
const patchNums = [1, 2, 3, 4, 6, 8];
const L = patchNums.reduce((a, p) => a + p * p, 0);
const model = VAR.create({ numClasses: 10, depth: 6, embedDim: 384, numHeads: 6, mlpRatio: 4, normEps: 1e-6, sharedAln: false, condDropRate: 0.1, attnL2Norm: true, patchNums, vocabSize: 512, Cvae: 16 }, { seed: 0, attention: 'auto' });
const x = tf.randomNormal([B, L - 1, 16]);
const gt = Int32Array.from({ length: B * L }, (_, i) => (i * 7919) % 512);
const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
process.on('exit', () => console.log('max held', (maxBytes / 2 ** 20).toFixed(0), 'MiB'));
const r = lossGrads(model, labels, x, gt, { training: true, rng: 1 });
console.log('loss', r.loss);
