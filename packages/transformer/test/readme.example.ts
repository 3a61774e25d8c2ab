import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { VAR, VARTrainer, countParameters, varPreset, type VARConfig } from '@var/transformer';

await tf.setBackend('cpu');
console.log(countParameters(varPreset('d16'))); // 310283520 (nothing is allocated)

// A tiny model with the official initialisation.
const config: VARConfig = {
  numClasses: 10,
  depth: 2,
  embedDim: 64,
  numHeads: 2,
  mlpRatio: 4,
  normEps: 1e-6,
  sharedAln: false,
  condDropRate: 0.1,
  attnL2Norm: true,
  patchNums: [1, 2, 3],
  vocabSize: 32,
  Cvae: 8,
};
const model = VAR.create(config, { seed: 0 });

// Teacher-forced logits: labels (B), inputs (B, L − 1, Cvae) → logits (B, L, V).
const x = tf.randomNormal([2, 13, 8]) as tf.Tensor3D;
const logits = model.forward([3, 7], x); // (2, 14, 32)

// KV-cached inference, one scale at a time, for a CFG pair (class 3 + the unconditional class 10).
const session = model.startInference([3, 10]);
const l0 = session.step(0, null); // (2, 1, 32)
const x1 = tf.randomNormal([2, 4, 8]) as tf.Tensor3D; // next-scale input (area-downsampled f_hat)
const l1 = session.step(1, x1); // (2, 4, 32)
session.dispose();

// One training step: official loss, AdamW (0.9, 0.95), lr schedule, clipping, label dropout.
const trainer = await VARTrainer.create(model, { peakLr: 1e-3, maxIt: 100, seed: 0 });
const gtBL = new Int32Array(2 * 14).fill(5);
const { loss, gradNorm } = trainer.step([3, 7], x, gtBL);
console.log(logits.shape, l0.shape, l1.shape, loss, gradNorm);

tf.dispose([x, logits, l0, x1, l1]);
trainer.dispose();
model.dispose();
export { loss };
