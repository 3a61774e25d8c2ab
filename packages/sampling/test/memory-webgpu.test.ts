import { describe, expect, it } from 'vitest';
import { OutOfMemoryError } from '@var/core';
import { VQVAE_PRESETS } from '@var/tokenizer';
import { varPreset } from '@var/transformer';
import { assertWebGPULimits, largestTensorBytes, type GenerationShape } from '../src/index.js';

const MiB = 2 ** 20;
const v = varPreset('d16');
const t = VQVAE_PRESETS.vae_ch160v4096z32;
const d16: GenerationShape = {
  depth: v.depth,
  embedDim: v.embedDim,
  numHeads: v.numHeads,
  mlpRatio: v.mlpRatio,
  vocabSize: v.vocabSize,
  patchNums: v.patchNums,
  ch: t.ch,
  chMult: t.chMult,
  imageSize: v.patchNums[v.patchNums.length - 1] * 2 ** (t.chMult.length - 1),
};

describe('WebGPU buffer limits (d16 at 256 px, cfg on)', () => {
  it("the largest buffer is the decoder's widest activation: ch·256² floats per image", () => {
    const one = largestTensorBytes(d16, 1);
    expect(one.bytes).toBe(t.ch * t.chMult[0] * 256 * 256 * 4);
    expect(one.what).toMatch(/decoder/);
    expect(largestTensorBytes(d16, 8).bytes).toBe(8 * one.bytes);
    // without decoding, the logits of the last scale lead
    expect(largestTensorBytes(d16, 8, { decode: false }).what).toMatch(/logits/);
  });

  it("WebGPU's default limits (128 MiB per binding) fit 3 images; a batch of 8 fails at once, naming that", () => {
    const limits = { maxStorageBufferBindingSize: 128 * MiB, maxBufferSize: 256 * MiB, adapter: 'test adapter' };
    expect(() => assertWebGPULimits(d16, 3, limits)).not.toThrow();
    let err: unknown;
    try {
      assertWebGPULimits(d16, 8, limits);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(OutOfMemoryError);
    const e = err as OutOfMemoryError;
    expect(e.largestBatch).toBe(3);
    expect(e.message).toMatch(/test adapter/);
    expect(e.message).toMatch(/maxStorageBufferBindingSize 128 MiB/);
    expect(e.message).toMatch(/largest batch that fits is 3/);
  });

  it('an adapter that binds less than one image says so and names wasm; a 2 GiB adapter runs batch 8; no limits: no check', () => {
    expect(() => assertWebGPULimits(d16, 1, { maxStorageBufferBindingSize: 16 * MiB, maxBufferSize: 16 * MiB })).toThrow(
      /not even one image fits: use the wasm backend/,
    );
    expect(() => assertWebGPULimits(d16, 8, { maxStorageBufferBindingSize: 2048 * MiB, maxBufferSize: 2048 * MiB })).not.toThrow();
    expect(() => assertWebGPULimits(d16, 1000, null)).not.toThrow();
  });
});
