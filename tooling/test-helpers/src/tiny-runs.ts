/**
 * The tiny training runs the test suites of several packages share (train, CLI): an 8×8 gray
 * two-class image folder, a 3-scale tokenizer with codebook 16 that trains in seconds on one
 * wasm thread, and the dataset spec that reads such a folder. Plain objects (no @var/train
 * import: every package may import this helper), structurally typed to the train options.
 */

/** Model config of the tiny tokenizer: 8 px, 1 channel, scales 1/2/4, downsample 2, no attention. */
export const TINY_TOKENIZER_MODEL = {
  ch: 32,
  chMult: [1, 1],
  numResBlocks: 1,
  vocabSize: 16,
  zChannels: 4,
  vPatchNums: [1, 2, 4],
  inChannels: 1,
  usingSa: false,
  usingMidSa: false,
  shareQuantResi: 1,
};

/** A fresh copy of {@link TINY_TOKENIZER_MODEL} with `extra` fields overridden (e.g. `{ chMult: [1, 2] }`). */
export function tinyTokenizerModel(extra: Partial<typeof TINY_TOKENIZER_MODEL> = {}): typeof TINY_TOKENIZER_MODEL {
  return { ...TINY_TOKENIZER_MODEL, chMult: [...TINY_TOKENIZER_MODEL.chMult], vPatchNums: [...TINY_TOKENIZER_MODEL.vPatchNums], ...extra };
}

/** Dataset spec of a tiny 8×8 gray image folder at `path`, a quarter held out. */
export function tinyFolderDataset(path: string): { name: 'folder'; path: string; size: number; channels: 1; heldOutFraction: number } {
  return { name: 'folder', path, size: 8, channels: 1, heldOutFraction: 0.25 };
}
