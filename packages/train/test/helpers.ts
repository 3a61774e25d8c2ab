import type { TrainTokenizerOptions } from '../src/index.js';
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePng } from '@var/data';
import { tinyFolderDataset, tinyTokenizerModel } from '@var/test-helpers';

/** A tiny image folder: 2 classes × `perClass` gray `size`×`size` images (bright square, dark square) with noise. */
export async function tinyFolder(size = 8, perClass = 12): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'var-train-'));
  const dir = join(root, 'images');
  let s = 12345;
  const rand = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (const [ci, cls] of ['a', 'b'].entries()) {
    await mkdir(join(dir, cls), { recursive: true });
    for (let k = 0; k < perClass; k++) {
      const data = new Uint8Array(size * size);
      for (let y = 0; y < size; y++)
        for (let x = 0; x < size; x++) {
          const inside = ci === 0 ? x < size / 2 : y < size / 2;
          data[y * size + x] = Math.round((inside ? 200 : 40) + rand() * 50);
        }
      await writePng(join(dir, cls, `${k}.png`), { width: size, height: size, channels: 1, data });
    }
  }
  return dir;
}

export async function tmpRunDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'var-run-'));
}

/** A tiny 8-px tokenizer run on {@link tinyFolder}'s images; `extra` overrides any option. */
export function tinyTokenizerOptions(runDir: string, folder: string, extra: Partial<TrainTokenizerOptions> = {}): TrainTokenizerOptions {
  return {
    runDir,
    model: tinyTokenizerModel(),
    dataset: tinyFolderDataset(folder),
    train: { steps: 6, batchSize: 4, lr: 3e-3, warmupSteps: 2 },
    seed: 7,
    settings: { logEvery: 1, checkpointEvery: 100, evalEvery: 0 },
    evalSamples: 4,
    classifier: false,
    ...extra,
  };
}
