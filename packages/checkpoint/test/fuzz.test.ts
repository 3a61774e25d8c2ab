/**
 * Deterministic fuzzing (seeded PRNG): mutated and truncated safetensors and .pth
 * files must either load or fail with a CheckpointError — never another exception,
 * never more than a second per file. Seeds: the fixture case's small var.pth /
 * var.safetensors plus small synthetic files.
 */
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { describe, expect, test } from 'vitest';
import { CheckpointError } from '@var/core';
import { loadFixtureCase } from '@var/test-helpers';
import {
  loadStateDict,
  openStateDict,
  parseSafetensors,
  readPth,
  readPthObject,
  ScratchBuffer,
  serializeSafetensors,
  type StateDict,
} from '../src/index.js';
import { Float, PickleWriter, Tup, bytesOf, makePth, picklePy, rng, tensor } from './builders.js';

const fc = loadFixtureCase();
/** Longer local runs: VAR_FUZZ_SCALE multiplies the file counts, VAR_FUZZ_SEED changes the seeds. */
const SCALE = Math.max(1, Number(process.env.VAR_FUZZ_SCALE ?? 1) || 1);
const SEED = Number(process.env.VAR_FUZZ_SEED ?? 0) || 0;

interface Tally {
  files: number;
  loaded: number;
  rejected: number;
  maxMs: number;
  failures: string[];
}

function newTally(): Tally {
  return { files: 0, loaded: 0, rejected: 0, maxMs: 0, failures: [] };
}

async function attempt(t: Tally, what: string, fn: () => unknown): Promise<void> {
  t.files++;
  const t0 = performance.now();
  try {
    await fn();
    t.loaded++;
  } catch (e) {
    if (e instanceof CheckpointError) t.rejected++;
    else if (t.failures.length < 10) t.failures.push(`${what}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
  const ms = performance.now() - t0;
  if (ms > t.maxMs) t.maxMs = ms;
  if (ms > 1000 && t.failures.length < 10) t.failures.push(`${what}: took ${ms.toFixed(0)} ms`);
}

const INTERESTING = [
  0x00, 0xff, 0x7f, 0x80, 0x01, 0x30, 0x39, 0x7b, 0x22, 0x2c, 0x5d, 0x2e, 0x28, 0x4b, 0x4a, 0x58, 0x71, 0x68, 0x52, 0x63,
];

/** One random mutation of `src`; `hot` is a byte range mutated preferentially (header, directory, pickle). */
function mutate(src: Uint8Array, r: () => number, hot?: [number, number]): Uint8Array {
  const b = src.slice();
  const pick = () => (hot && r() < 0.7 ? hot[0] + Math.floor(r() * (hot[1] - hot[0])) : Math.floor(r() * b.length));
  const kind = Math.floor(r() * 6);
  const times = 1 + Math.floor(r() * 4);
  let out = b;
  for (let k = 0; k < times; k++) {
    const i = Math.min(pick(), out.length - 1);
    if (i < 0) break;
    switch (kind) {
      case 0: // bit flip
        out[i] ^= 1 << Math.floor(r() * 8);
        break;
      case 1: // interesting byte
        out[i] = INTERESTING[Math.floor(r() * INTERESTING.length)];
        break;
      case 2: // random byte
        out[i] = Math.floor(r() * 256);
        break;
      case 3: {
        // delete a short run
        const n = Math.min(1 + Math.floor(r() * 8), out.length - i);
        const o = new Uint8Array(out.length - n);
        o.set(out.subarray(0, i));
        o.set(out.subarray(i + n), i);
        out = o;
        break;
      }
      case 4: {
        // insert a short run of random or repeated bytes
        const n = 1 + Math.floor(r() * 8);
        const o = new Uint8Array(out.length + n);
        o.set(out.subarray(0, i));
        for (let j = 0; j < n; j++) o[i + j] = r() < 0.5 ? 0xff : Math.floor(r() * 256);
        o.set(out.subarray(i), i + n);
        out = o;
        break;
      }
      default: {
        // overwrite 4/8 bytes with a large little-endian value (lying lengths/offsets)
        const w = r() < 0.5 ? 4 : 8;
        for (let j = 0; j < w && i + j < out.length; j++) out[i + j] = j < w - 1 ? 0xff : Math.floor(r() * 0x80);
      }
    }
  }
  return out;
}

function truncate(src: Uint8Array, r: () => number): Uint8Array {
  // mostly near the start and near the end, where the headers and the directory are
  const u = r();
  const n =
    u < 0.4
      ? Math.floor(r() * Math.min(src.length, 4096))
      : u < 0.8
        ? src.length - 1 - Math.floor(r() * Math.min(src.length, 4096))
        : Math.floor(r() * src.length);
  return src.slice(0, Math.max(0, n));
}

function syntheticSafetensors(): Uint8Array {
  const sd: StateDict = new Map();
  sd.set('a.weight', { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
  sd.set('a.bias', { dtype: 'F16', shape: [3], data: new Uint16Array([1, 2, 3]) });
  sd.set('idx', { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, -1n]) });
  sd.set('mask', { dtype: 'BOOL', shape: [1, 2], data: new Uint8Array([1, 0]) });
  sd.set('s', { dtype: 'F64', shape: [], data: new Float64Array([0.25]) });
  return serializeSafetensors(sd, { format: 'pt', k: 'v' });
}

function syntheticPths(): Uint8Array[] {
  const f32 = (...v: number[]) => bytesOf(new Float32Array(v));
  const sd = new Map<string, unknown>([
    ['a', tensor({ storageType: 'FloatStorage', key: '0', location: 'cuda:0', numel: 8, size: [2, 2] })],
    ['b', tensor({ storageType: 'FloatStorage', key: '0', location: 'cuda:0', numel: 8, offset: 4, size: [2, 2], stride: [1, 2] })],
    ['c', tensor({ storageType: 'LongStorage', key: '1', numel: 2, size: [2], parameter: true })],
  ]);
  const storages = { '0': f32(1, 2, 3, 4, 5, 6, 7, 8), '1': bytesOf(new BigInt64Array([5n, 6n])) };
  return [
    makePth({ pickle: picklePy(sd), storages, byteorder: 'little' }),
    makePth({
      prefix: 'ckpt/',
      pickle: picklePy({ model: sd, epoch: 3, lr: new Float(0.5), t: new Tup([1, 'x', null]), l: [true] }, 4),
      storages,
    }),
    makePth({ pickle: picklePy(sd), storages, byteorder: 'big', deflate: true }),
  ];
}

function report(name: string, t: Tally): void {
  console.log(`${name}: ${t.files} files, ${t.loaded} loaded, ${t.rejected} CheckpointError, max ${t.maxMs.toFixed(1)} ms/file`);
  expect(t.failures, `${name}: non-CheckpointError exceptions or slow files`).toEqual([]);
}

describe('fuzz', () => {
  test('safetensors: 1500 mutated and truncated files give only CheckpointError', async () => {
    const seeds = [new Uint8Array(readFileSync(fc.path('var.safetensors'))), syntheticSafetensors()];
    const r = rng(0x5eed5afe + SEED);
    const t = newTally();
    for (let i = 0; i < 1500 * SCALE; i++) {
      const seed = seeds[i % 4 === 0 ? 0 : 1];
      const headerEnd = 8 + Number(new DataView(seed.buffer, seed.byteOffset).getBigUint64(0, true));
      const bytes = i % 5 === 4 ? truncate(seed, r) : mutate(seed, r, [0, headerEnd]);
      await attempt(t, `safetensors #${i}`, () => (i % 2 ? parseSafetensors(bytes) : loadStateDict(bytes)));
    }
    report('safetensors fuzz', t);
    expect(t.files).toBe(1500 * SCALE);
    expect(t.rejected).toBeGreaterThan(500);
  });

  test('pth: 1000 mutated and truncated archives give only CheckpointError', async () => {
    const seeds = [new Uint8Array(readFileSync(fc.path('var.pth'))), ...syntheticPths()];
    const r = rng(0xc0ffee + SEED);
    const t = newTally();
    for (let i = 0; i < 1000 * SCALE; i++) {
      const seed = seeds[i % 8 === 0 ? 0 : 1 + (i % 3)];
      // hot zone: the central directory at the end
      const bytes = i % 4 === 3 ? truncate(seed, r) : mutate(seed, r, [Math.max(0, seed.length - 2048), seed.length]);
      const verifyCrc = i % 2 === 0;
      await attempt(t, `pth #${i}`, () => (i % 3 === 0 ? readPthObject(bytes, { verifyCrc }) : readPth(bytes, { verifyCrc })));
    }
    report('pth archive fuzz', t);
    expect(t.files).toBe(1000 * SCALE);
  });

  test('openStateDict: 900 mutated and truncated .pth / safetensors files, read tensor by tensor, give only CheckpointError', async () => {
    const seeds = [
      new Uint8Array(readFileSync(fc.path('var.pth'))),
      new Uint8Array(readFileSync(fc.path('var.safetensors'))),
      ...syntheticPths(),
      syntheticSafetensors(),
    ];
    const r = rng(0x0be57a7e + SEED);
    const t = newTally();
    for (let i = 0; i < 900 * SCALE; i++) {
      const seed = seeds[i % seeds.length];
      const bytes = i % 4 === 3 ? truncate(seed, r) : mutate(seed, r);
      const scratch = new ScratchBuffer();
      await attempt(t, `openStateDict #${i}`, async () => {
        const ck = await openStateDict(bytes, { verifyCrc: i % 2 === 0 });
        try {
          for (const e of ck.entries.values()) await e.read(i % 3 ? scratch : undefined);
        } finally {
          await ck.close();
        }
      });
    }
    report('openStateDict fuzz', t);
    expect(t.files).toBe(900 * SCALE);
    expect(t.rejected).toBeGreaterThan(100);
  });

  test('pth: 1200 mutated pickles (re-zipped with valid CRCs) give only CheckpointError', async () => {
    const seeds = [new Uint8Array(readFileSync(fc.path('var.pth'))), ...syntheticPths()].map((z) => {
      const files = unzipSync(z);
      const pkl = Object.keys(files).find((n) => n.endsWith('data.pkl'))!;
      const prefix = pkl.slice(0, -'data.pkl'.length);
      const storages: Record<string, Uint8Array> = {};
      for (const [n, b] of Object.entries(files)) if (n.startsWith(`${prefix}data/`)) storages[n.slice(prefix.length + 5)] = b;
      const bo = files[`${prefix}byteorder`];
      return { prefix, pickle: files[pkl], storages, byteorder: bo ? new TextDecoder().decode(bo) : undefined };
    });
    const r = rng(0xbadc0de + SEED);
    const t = newTally();
    for (let i = 0; i < 1200 * SCALE; i++) {
      const s = seeds[i % 6 === 0 ? 0 : 1 + (i % 3)];
      const pickle = i % 7 === 6 ? truncate(s.pickle, r) : mutate(s.pickle, r);
      const bytes = makePth({ ...s, pickle });
      await attempt(t, `pickle #${i}`, () => (i % 3 === 0 ? readPthObject(bytes) : readPth(bytes)));
    }
    report('pickle fuzz', t);
    expect(t.files).toBe(1200 * SCALE);
    expect(t.rejected).toBeGreaterThan(300);
  });

  test('pth: 1000 random opcode programs over the allow-listed globals give only CheckpointError', async () => {
    const globals: [string, string][] = [
      ['torch._utils', '_rebuild_tensor_v2'],
      ['torch._utils', '_rebuild_tensor_v3'],
      ['torch._utils', '_rebuild_tensor'],
      ['torch._utils', '_rebuild_parameter'],
      ['torch._utils', '_rebuild_parameter_with_state'],
      ['torch._tensor', '_rebuild_from_type_v2'],
      ['collections', 'OrderedDict'],
      ['torch', 'FloatStorage'],
      ['torch', 'LongStorage'],
      ['torch', 'UntypedStorage'],
      ['torch', 'Size'],
      ['torch', 'device'],
      ['torch', 'float32'],
      ['torch', 'complex64'],
      ['torch', 'Tensor'],
      ['_codecs', 'encode'],
      ['builtins', 'set'],
      ['builtins', 'frozenset'],
      ['builtins', 'bytearray'],
    ];
    const strs = ['storage', '0', '1', 'cpu', 'cuda:0', 'latin1', 'w', '', 'x'.repeat(40)];
    const ints = [0, 1, 2, 3, 4, 8, -1, 255, 65535, 2 ** 31 - 1, -(2 ** 31), 2 ** 40];
    const simple = [
      0x28, 0x74, 0x29, 0x85, 0x86, 0x87, 0x5d, 0x65, 0x61, 0x7d, 0x73, 0x75, 0x52, 0x81, 0x62, 0x51, 0x32, 0x30, 0x31, 0x4e, 0x88, 0x89,
      0x8f, 0x90, 0x91, 0x94, 0x6c, 0x64,
    ];
    const storages = { '0': bytesOf(new Float32Array(8).fill(1.5)), '1': bytesOf(new BigInt64Array([1n, 2n])) };
    const r = rng(0x0dd5eed + SEED);
    const t = newTally();
    for (let i = 0; i < 1000 * SCALE; i++) {
      const p = new PickleWriter().proto(r() < 0.5 ? 2 : 4);
      const n = 3 + Math.floor(r() * 60);
      for (let k = 0; k < n; k++) {
        const u = r();
        if (u < 0.15) {
          const [m, g] = globals[Math.floor(r() * globals.length)];
          if (r() < 0.5) p.global(m, g);
          else p.stackGlobal(m, g);
        } else if (u < 0.3) p.str(strs[Math.floor(r() * strs.length)]);
        else if (u < 0.45) p.int(ints[Math.floor(r() * ints.length)]);
        else if (u < 0.5) p.float(r() * 10 - 5);
        else if (u < 0.55) p.put(Math.floor(r() * 4));
        else if (u < 0.6) p.get(Math.floor(r() * 4));
        else p.raw(simple[Math.floor(r() * simple.length)]);
      }
      p.stop();
      const bytes = makePth({ pickle: p.bytes(), storages });
      await attempt(t, `program #${i}`, () => (i % 2 ? readPthObject(bytes) : readPth(bytes)));
    }
    report('opcode program fuzz', t);
    expect(t.files).toBe(1000 * SCALE);
  });
});
