// Kernel profile of one VAR training step: node prof-var.mjs depth width heads batch [fast]
await import('./node-setup.mjs');
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VAR, lossGrads } = await import('@var/transformer');
await initBackend('wasm', { threads: 1 });
if (process.argv[6]) (await import('@var/train')).registerFastConvGradients();
const [depth, embedDim, numHeads, B] = process.argv.slice(2).map(Number);
const patchNums = [1, 2, 3, 4, 6, 8];
const L = patchNums.reduce((a, p) => a + p * p, 0);
const model = VAR.create({ numClasses: 10, depth, embedDim, numHeads, mlpRatio: 4, normEps: 1e-6, sharedAln: false, condDropRate: 0.1, attnL2Norm: true, patchNums, vocabSize: 512, Cvae: 16 }, { seed: 0 });
const x = tf.randomNormal([B, L - 1, 16]);
const gt = Int32Array.from({ length: B * L }, (_, i) => (i * 7919) % 512);
const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
const step = () => { const r = lossGrads(model, labels, x, gt, { training: true, rng: 1 }); tf.dispose([...r.grads.values()]); };
step();
let t = Date.now(); step(); console.log('step ms', Date.now() - t, 'params', model.numParameters());
const info = await tf.profile(step);
const agg = new Map();
for (const k of info.kernels) { const a = agg.get(k.name) ?? [0, 0]; a[0] += k.kernelTimeMs; a[1]++; agg.set(k.name, a); }
console.log([...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 12).map(([n, [t, c]]) => `${n} ${t.toFixed(0)}ms x${c}`).join('\n'));
