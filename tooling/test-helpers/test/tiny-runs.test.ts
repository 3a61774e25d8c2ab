import { describe, expect, it } from 'vitest';
import { TINY_TOKENIZER_MODEL, tinyFolderDataset, tinyTokenizerModel } from '../src/index.js';

describe('tiny training runs', () => {
  it('tinyTokenizerModel returns a fresh copy with overrides, leaving the shared constant untouched', () => {
    const a = tinyTokenizerModel({ chMult: [1, 2] });
    a.vPatchNums.push(8);
    expect(a.chMult).toEqual([1, 2]);
    expect(TINY_TOKENIZER_MODEL.chMult).toEqual([1, 1]);
    expect(TINY_TOKENIZER_MODEL.vPatchNums).toEqual([1, 2, 4]);
    expect(tinyTokenizerModel()).toEqual(TINY_TOKENIZER_MODEL);
  });
  it('the tiny tokenizer covers an 8 px image: last scale × 2^(len(chMult)-1) = dataset size', () => {
    const m = tinyTokenizerModel();
    const d = tinyFolderDataset('/x');
    expect(m.vPatchNums[m.vPatchNums.length - 1] * 2 ** (m.chMult.length - 1)).toBe(d.size);
    expect(d).toEqual({ name: 'folder', path: '/x', size: 8, channels: 1, heldOutFraction: 0.25 });
  });
});
