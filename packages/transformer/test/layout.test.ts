import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StateDict } from '@var/checkpoint';
import { CheckpointError } from '@var/core';
import { fromOfficialLayout, paramShapes, storedShape, toOfficialLayout, transpose2D, VAR, type VARConfig } from '../src/index.js';
import { useBackend } from './helpers.js';

const cfg: VARConfig = {
  numClasses: 5,
  depth: 2,
  embedDim: 32,
  numHeads: 2,
  mlpRatio: 4,
  normEps: 1e-6,
  sharedAln: false,
  condDropRate: 0.1,
  attnL2Norm: true,
  patchNums: [1, 2, 3],
  vocabSize: 48,
  Cvae: 8,
};

describe('linear weights stored (in, out)', () => {
  beforeAll(async () => {
    expect(await useBackend('cpu')).toBe(true);
  });

  it('transpose2D transposes any typed array, also across tiles', () => {
    const r = 70,
      c = 130; // more than one 64×64 tile each way, ragged edges
    const a = Float32Array.from({ length: r * c }, (_, i) => i);
    const t = transpose2D(a, r, c);
    expect(t).toBeInstanceOf(Float32Array);
    for (const [i, j] of [
      [0, 0],
      [69, 129],
      [3, 64],
      [65, 7],
    ])
      expect(t[j * r + i]).toBe(a[i * c + j]);
    expect(transpose2D(t, c, r)).toEqual(a);
    expect(transpose2D(Uint16Array.from([1, 2, 3, 4, 5, 6]), 2, 3)).toEqual(Uint16Array.from([1, 4, 2, 5, 3, 6]));
    expect(() => transpose2D(new Float32Array(5), 2, 3)).toThrow(CheckpointError);
  });

  it('every linear weight is a variable (in, out); stateDict and loadStateDict use the official (out, in)', () => {
    const m = VAR.create(cfg, { seed: 3 });
    const vars = m.trainableVariables();
    const specs = paramShapes(cfg).filter((s) => s.kind === 'param');
    const linear = specs.filter((s) => s.linear).map((s) => s.name);
    expect(linear.sort()).toEqual(
      [
        'word_embed.weight',
        'head_nm.ada_lin.1.weight',
        'head.weight',
        ...[0, 1].flatMap((i) =>
          ['attn.mat_qkv.weight', 'attn.proj.weight', 'ffn.fc1.weight', 'ffn.fc2.weight', 'ada_lin.1.weight'].map(
            (n) => `blocks.${i}.${n}`,
          ),
        ),
      ].sort(),
    );
    for (const s of specs) expect(vars.get(s.name)!.shape, s.name).toEqual(s.linear ? [s.shape[1], s.shape[0]] : s.shape);
    for (const s of specs) expect(storedShape(s)).toEqual(vars.get(s.name)!.shape);
    const sd = m.stateDict();
    for (const s of specs) {
      expect(sd.get(s.name)!.shape, s.name).toEqual(s.shape);
      const v = vars.get(s.name)!.dataSync();
      const d = sd.get(s.name)!.data as Float32Array;
      // element (o, i) of the official tensor is element (i, o) of the variable
      if (s.linear) expect(d[1 * s.shape[1] + 2]).toBe(v[2 * s.shape[0] + 1]);
      else expect(d).toEqual(v);
    }
    // the official layout loads back into a fresh model bit-identically, and its logits agree
    const m2 = VAR.fromStateDict(cfg, sd);
    for (const [k, t] of m2.stateDict()) expect(t.data, k).toEqual(sd.get(k)!.data);
    const x = tf.randomNormal([2, 13, 8], 0, 1, 'float32', 1) as tf.Tensor3D;
    const a = m.forward([1, 5], x);
    const b = m2.forward([1, 5], x);
    expect(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]).toBe(0);
    tf.dispose([x, a, b]);
    m.dispose();
    m2.dispose();
  });

  it('fromStateDict with release uploads one parameter at a time and empties the map; nothing leaks on a failed load', () => {
    const m = VAR.create(cfg, { seed: 4 });
    const sd = m.stateDict();
    const keys = [...sd.keys()];
    const n0 = tf.memory().numTensors;
    const m2 = VAR.fromStateDict(cfg, sd, { release: true });
    expect(sd.size).toBe(0);
    expect(tf.memory().numTensors - n0).toBe(m2.trainableVariables().size + cfg.depth); // parameters + zero_k_bias buffers
    const back = m2.stateDict();
    expect([...back.keys()].sort()).toEqual(keys.sort());
    m2.dispose();
    expect(tf.memory().numTensors).toBe(n0);
    // a bad tensor part-way: the variables made before it are freed again
    const bad: StateDict = m.stateDict();
    const t = bad.get('blocks.1.ffn.fc1.weight')!;
    bad.set('blocks.1.ffn.fc1.weight', { ...t, data: new Float32Array(t.data.length - 1) }); // one value short
    expect(() => VAR.fromStateDict(cfg, bad)).toThrow(CheckpointError);
    expect(tf.memory().numTensors).toBe(n0);
    m.dispose();
  });

  it('toOfficialLayout / fromOfficialLayout convert gradients and AdamW moments keyed by name or m./v. name', () => {
    const m = VAR.create(cfg, { seed: 5 });
    const stored = new Map(
      [...m.trainableVariables()].flatMap(([n, v]) => {
        const t = { dtype: 'F32', shape: [...v.shape], data: v.dataSync() as Float32Array };
        return [
          [`m.${n}`, t],
          [n, t],
        ] as const;
      }),
    );
    const official = toOfficialLayout(cfg, stored);
    const sd = m.stateDict();
    for (const [k, t] of official) {
      const name = k.startsWith('m.') ? k.slice(2) : k;
      expect(t.shape, k).toEqual(sd.get(name)!.shape);
      expect(t.data, k).toEqual(sd.get(name)!.data);
    }
    const again = fromOfficialLayout(cfg, official);
    for (const [k, t] of again) expect(t.data, k).toEqual(stored.get(k)!.data);
    // a moment already in the other layout is refused, naming it
    expect(() => fromOfficialLayout(cfg, stored)).toThrow(/m\.word_embed\.weight: shape \[8,32\], expected \[32,8\]/);
    m.dispose();
  });
});
