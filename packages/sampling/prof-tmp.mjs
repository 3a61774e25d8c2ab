import { pathToFileURL } from 'node:url';
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VAR } = await import('@var/transformer');
const { sampleTokens } = await import(pathToFileURL('/work/main/packages/sampling/dist/index.js').href);
const { Rng } = await import('@var/core');
await initBackend('wasm', { threads: 1 });
const patchNums = [1, 2, 3, 4, 6, 8];
const model = VAR.create({ numClasses: 1000, depth: 6, embedDim: 384, numHeads: 6, mlpRatio: 4, normEps: 1e-6, sharedAln: false, condDropRate: 0.1, attnL2Norm: true, patchNums, vocabSize: 512, Cvae: 16 }, { seed: 0 });
for (let rep = 0; rep < 3; rep++) {
  const s = model.startInference(Int32Array.from([1, 2, 1000, 1000]));
  const times = [];
  for (let si = 0; si < patchNums.length; si++) {
    const x = si ? tf.randomNormal([4, patchNums[si] ** 2, 16]) : null;
    const t0 = performance.now();
    const out = s.step(si, x);
    const d = await out.data();
    const t1 = performance.now();
    sampleTokens(d.subarray(0, d.length / 2), 512, new Rng(0), { topK: 900, topP: 0.95 });
    const t2 = performance.now();
    times.push(`${(t1 - t0).toFixed(0)}+${(t2 - t1).toFixed(0)}`);
    tf.dispose([x, out].filter(Boolean));
  }
  s.dispose();
  console.log(times.join('  '));
}
