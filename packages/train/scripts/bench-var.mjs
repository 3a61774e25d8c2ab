// Time (or, with --profile, kernel-profile) VAR training steps for a model size (used to size
// the MNIST VAR): node bench-var.mjs depth width heads batch [--fast] [--profile]
// (--fast registers @var/train's forward-conv gradient kernels first; --attention batched|perHead|auto)
await import('./node-setup.mjs');
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VAR, lossGrads } = await import('@var/transformer');
const { timeOrProfile } = await import('./profile.mjs');
await initBackend('wasm', { threads: 1 });
if (process.argv.includes('--fast')) (await import('@var/train')).registerFastConvGradients();
const argv = process.argv.slice(2);
const attention = argv.includes('--attention') ? argv[argv.indexOf('--attention') + 1] : 'auto';
const [depth, embedDim, numHeads, B] = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--attention').map(Number);
const patchNums = [1, 2, 3, 4, 6, 8];
const L = patchNums.reduce((a, p) => a + p * p, 0);
const model = VAR.create({ numClasses: 10, depth, embedDim, numHeads, mlpRatio: 4, normEps: 1e-6, sharedAln: false, condDropRate: 0.1, attnL2Norm: true, patchNums, vocabSize: 512, Cvae: 16 }, { seed: 0, attention });
const x = tf.randomNormal([B, L - 1, 16]);
const gt = Int32Array.from({ length: B * L }, (_, i) => (i * 7919) % 512);
const labels = Int32Array.from({ length: B }, (_, i) => i % 10);
await timeOrProfile(tf, () => {
  const r = lossGrads(model, labels, x, gt, { training: true, rng: 1 });
  tf.dispose([...r.grads.values()]);
  return ` loss ${r.loss.toFixed(3)}`;
}, `params ${model.numParameters()} B ${B} attention ${attention}`, process.argv.includes('--profile'));
