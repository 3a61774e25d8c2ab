import { describe, expect, it } from 'vitest';
import { convFlops, resolveVQVAEConfig } from '@var/tokenizer';
import type { VARConfig } from '@var/transformer';
import { decodeFlops, matMulFlops, transformerFlops } from '../../src/bench/flops.js';

describe('FLOP counts', () => {
  it('transformer: hand count of a 1-block model over two scales (KV cache, batch 2)', () => {
    const c: VARConfig = {
      numClasses: 3,
      depth: 1,
      embedDim: 4,
      numHeads: 1,
      mlpRatio: 2,
      normEps: 1e-6,
      sharedAln: false,
      condDropRate: 0,
      attnL2Norm: true,
      patchNums: [1, 2],
      vocabSize: 5,
      Cvae: 3,
    };
    const t = transformerFlops(c, 2);
    // setup: AdaLN 2·2·4·24 = 384, head AdaLN 2·2·4·8 = 128
    expect(t.setup).toBe(512);
    // scale 0 (1 token, 1 cached): qkv 192 + scores/values 2·16 + proj 64 + fc1 128 + fc2 128 + head 80
    // scale 1 (4 tokens, 5 cached): embed 192 + qkv 768 + scores/values 2·320 + proj 256 + fc1 512 + fc2 512 + head 320
    expect(t.perScale).toEqual([624, 3200]);
    expect(t.total).toBe(4336);
    // shared AdaLN: one linear for all blocks
    expect(transformerFlops({ ...c, depth: 3, sharedAln: true }, 2).setup).toBe(512);
  });

  it('decode = post_quant_conv + the decoder of convFlops, per image', () => {
    const c = resolveVQVAEConfig({ ch: 32, zChannels: 8, vocabSize: 16, vPatchNums: [1, 2, 4] });
    const side = 4 * 16;
    const post = 2 * 4 * 4 * 8 * 8 * 9;
    expect(decodeFlops(c, 1)).toBe(post + convFlops(c, side, side).decoder);
    expect(decodeFlops(c, 3)).toBe(3 * decodeFlops(c, 1));
    expect(matMulFlops(1024)).toBe(2 * 1024 ** 3);
  });
});
