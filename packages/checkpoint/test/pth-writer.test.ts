/**
 * The .pth writer: round trips through this package's reader, the layout torch writes
 * (64-byte aligned stored entries, CRC-32, zip64), streaming from the tensors' memory,
 * typed errors with nothing left on disk, and — with Debian's python3-torch — files that
 * torch.load reads (weights_only=True for state dicts) and re-saves to identical tensors.
 */
import { mkdtempSync, readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { CheckpointError, ShapeError, ValueError } from '@var/core';
import { loadFixtureCase, parsePythonJson, findTorch, runPython } from '@var/test-helpers';
import {
  fromFloat32,
  loadStateDict,
  pickleTorch,
  pthParts,
  pyFloat,
  pyOrderedDict,
  pyTuple,
  readPth,
  readPthObject,
  serializePth,
  writePth,
  type RawTensor,
  type StateDict,
} from '../src/index.js';
import { ZipArchive } from '../src/zip.js';
import { bytesSource } from '../src/io.js';

const fc = loadFixtureCase();
const tmp = mkdtempSync(join(tmpdir(), 'var-pth-writer-'));
const HERE = new URL('.', import.meta.url).pathname;
const TORCH_LOAD = join(HERE, 'python', 'torch_load.py');

function bytes(t: RawTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}
function expectSameStateDict(a: StateDict, b: StateDict): void {
  expect([...b.keys()]).toEqual([...a.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect(u.dtype, k).toBe(t.dtype);
    expect(u.shape, k).toEqual(t.shape);
    expect(bytes(u).equals(bytes(t)), `${k} bytes`).toBe(true);
  }
}

/** One tensor of every dtype, with NaN and ±Infinity in the float ones, a scalar and an empty tensor. */
function everyDtype(): StateDict {
  const f = new Float32Array([1.5, -2.25, NaN, Infinity, -Infinity, 0, -0, 3e-39, 65504, 1e10, 7, 8]);
  return new Map<string, RawTensor>([
    ['f32', fromFloat32(f, [3, 4], 'F32')],
    ['f16', fromFloat32(f, [2, 6], 'F16')],
    ['bf16', fromFloat32(f, [12], 'BF16')],
    ['f64', { dtype: 'F64', shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ['i64', { dtype: 'I64', shape: [2, 2], data: new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n)]) }],
    ['i32', { dtype: 'I32', shape: [3], data: new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]) }],
    ['i16', { dtype: 'I16', shape: [1], data: new Int16Array([-300]) }],
    ['i8', { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) }],
    ['u8', { dtype: 'U8', shape: [2], data: new Uint8Array([0, 255]) }],
    ['bool', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }],
    ['scalar', { dtype: 'F32', shape: [], data: new Float32Array([42]) }],
    ['empty', { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) }],
  ]);
}

describe('writePth', () => {
  test("the fixture's state dicts round-trip bit-identically (vae.pth, var.pth)", async () => {
    for (const part of ['vae', 'var']) {
      const sd = await loadStateDict(fc.path(`${part}.pth`), { copy: true });
      const out = join(tmp, `${part}.pth`);
      await writePth(out, sd);
      expectSameStateDict(sd, await readPth(out));
      // what torch.save would produce for a state dict: an OrderedDict at the top
      const obj = (await readPthObject(out)) as Map<string, RawTensor>;
      expect(obj).toBeInstanceOf(Map);
      expect(obj.size).toBe(sd.size);
    }
  });

  test('every dtype, NaN/Infinity, scalars and empty tensors round-trip; the layout is the one torch writes', async () => {
    const sd = everyDtype();
    const bin = serializePth(sd);
    expectSameStateDict(sd, await readPth(bin, { copy: true }));
    const zip = await ZipArchive.open(bytesSource(bin));
    const names = [...zip.entries.keys()];
    expect(names[0]).toBe('archive/data.pkl');
    expect(names).toContain('archive/byteorder');
    expect(names[names.length - 1]).toBe('archive/version');
    expect(names.filter((n) => n.startsWith('archive/data/'))).toHaveLength(sd.size);
    for (const e of zip.entries.values()) {
      expect(e.method, e.name).toBe(0); // stored
      const nameLen = bin[e.localHeaderOffset + 26] | (bin[e.localHeaderOffset + 27] << 8);
      const extraLen = bin[e.localHeaderOffset + 28] | (bin[e.localHeaderOffset + 29] << 8);
      expect((e.localHeaderOffset + 30 + nameLen + extraLen) % 64, `${e.name} data is 64-byte aligned`).toBe(0);
    }
    expect(new TextDecoder().decode(await zip.read(zip.entries.get('archive/version')!))).toBe('3\n');
    // zip64 records everywhere are read the same
    expectSameStateDict(sd, await readPth(serializePth(sd, { forceZip64: true }), { copy: true }));
  });

  test('nested objects: dicts, OrderedDicts, lists, tuples, ints (incl. beyond 2^31 and 2^63), floats, str, bool, None', async () => {
    const t = fromFloat32(new Float32Array([1, 2]), [2]);
    const obj = {
      epoch: 3,
      iter: 0,
      big: 2n ** 70n,
      neg: -(2n ** 40n),
      lr: 1e-4,
      one: pyFloat(1),
      betas: pyTuple(0.9, 0.95),
      name: 'ünïcode ✓',
      flags: [true, false, null],
      nested: new Map<string | number, any>([
        [0, { step: t }],
        [7, pyOrderedDict([['w', t]])],
      ]),
    };
    const back = (await readPthObject(serializePth(obj))) as Map<string, any>;
    expect(back.get('epoch')).toBe(3);
    expect(back.get('big')).toBe(2n ** 70n);
    expect(back.get('neg')).toBe(-(2 ** 40)); // safe integers come back as numbers
    expect(back.get('lr')).toBe(1e-4);
    expect(back.get('one')).toBe(1);
    expect(back.get('betas')).toEqual([0.9, 0.95]);
    expect(back.get('name')).toBe('ünïcode ✓');
    expect(back.get('flags')).toEqual([true, false, null]);
    const nested = back.get('nested') as Map<number, Map<string, RawTensor>>;
    expect([...nested.get(0)!.get('step')!.data]).toEqual([1, 2]);
    // one typed array → one storage, as torch shares a storage between views
    expect(pickleTorch(obj).storages).toHaveLength(1);
  });

  test("streams: storages are written straight from the tensors' memory, one part at a time", () => {
    const sd = everyDtype();
    const parts = [...pthParts(pickleTorch(pyOrderedDict(sd)))];
    const f32 = sd.get('f32')!.data;
    expect(parts.some((p) => p.buffer === f32.buffer && p.byteOffset === f32.byteOffset)).toBe(true);
    expect(Math.max(...parts.map((p) => p.length))).toBeLessThan(serializePth(sd).length / 2);
  });

  test('bad input: unknown dtypes, wrong data, non-contiguous views, unpicklable values are typed errors and leave no file', async () => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    const out = join(dir, 'x.pth');
    const good = fromFloat32(new Float32Array(6), [2, 3]);
    const cases: [unknown, new (...a: any[]) => Error, RegExp][] = [
      [new Map([['w', { dtype: 'F8', shape: [1], data: new Uint8Array(1) }]]), ValueError, /unknown dtype "F8"/],
      [new Map([['w', { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) }]]), ValueError, /has 4 elements but data has 3/],
      [new Map([['w', { dtype: 'F16', shape: [1], data: new Float32Array(1) }]]), ValueError, /needs data as Uint16Array/],
      [new Map([['w', { ...good, strides: [1, 2] }]]), ShapeError, /non-contiguous view .*strides \[1, 2\].*row-major needs \[3, 1\]/],
      [{ f: () => 1 }, ValueError, /function cannot be pickled/],
      [{ u: undefined }, ValueError, /undefined cannot be pickled/],
      [{ d: new Date() }, ValueError, /Date cannot be pickled/],
      [{ a: new Float32Array(2) }, ValueError, /bare Float32Array/],
    ];
    for (const [value, cls, msg] of cases) {
      await expect(writePth(out, value as any), String(msg)).rejects.toThrow(cls);
      await expect(writePth(out, value as any)).rejects.toThrow(msg);
    }
    const cyclic: any[] = [];
    cyclic.push(cyclic);
    await expect(writePth(out, cyclic)).rejects.toThrow(/contains itself/);
    await expect(writePth(out, {}, { prefix: '../evil' })).rejects.toThrow(ValueError);
    // a contiguous view's strides are accepted (size-1 dims may have any stride)
    await writePth(
      join(dir, 'ok.pth'),
      new Map([
        ['w', { ...good, strides: [3, 1] }],
        ['v', { ...fromFloat32(new Float32Array(3), [1, 3]), strides: [99, 1] }],
      ]) as any,
    );
    expect(readdirSync(dir)).toEqual(['ok.pth']);
    // a folder that does not exist: CheckpointError naming the path, nothing written
    await expect(writePth(join(dir, 'missing', 'x.pth'), everyDtype())).rejects.toThrow(CheckpointError);
    // an existing file is left unchanged when the new content is refused
    writeFileSync(out, 'old');
    await expect(writePth(out, new Map([['w', { dtype: 'X', shape: [], data: null }]]) as any)).rejects.toThrow(ValueError);
    expect(readFileSync(out, 'utf8')).toBe('old');
    expect(readdirSync(dir).sort()).toEqual(['ok.pth', 'x.pth']);
  });
});

const torch = findTorch();

describe.skipIf(!torch.ok)(
  `torch.load reads what writePth writes (${torch.ok ? `torch ${torch.version}` : 'skipped: no python3-torch'})`,
  () => {
    test('state dicts of every dtype load with weights_only=True; torch re-saves identical tensors', async () => {
      for (const [name, sd, opts] of [
        ['dtypes', everyDtype(), {}],
        ['dtypes-zip64', everyDtype(), { forceZip64: true }],
        ['var', await loadStateDict(fc.path('var.pth'), { copy: true }), {}],
      ] as const) {
        const src = join(tmp, `${name}-for-torch.pth`);
        const dst = join(tmp, `${name}-from-torch.pth`);
        await writePth(src, sd, opts);
        const seen = parsePythonJson(await runPython(TORCH_LOAD, [src, dst, '--weights-only']));
        expect(seen.weights_only).toBe(true);
        const items = seen.value.OrderedDict as [string, any][];
        expect(items.map(([k]) => k)).toEqual([...sd.keys()]);
        const torchName = {
          F32: 'float32',
          F16: 'float16',
          BF16: 'bfloat16',
          F64: 'float64',
          I64: 'int64',
          I32: 'int32',
          I16: 'int16',
          I8: 'int8',
          U8: 'uint8',
          BOOL: 'bool',
        };
        for (const [k, d] of items) {
          const t = sd.get(k)!;
          expect(d.tensor, k).toBe(torchName[t.dtype]);
          expect(d.shape, k).toEqual(t.shape);
          expect(d.contiguous && !d.requires_grad, k).toBe(true);
        }
        expectSameStateDict(sd, await readPth(dst, { copy: true }));
      }
    });

    test('a trainer-style object (floats, tuples, nested dicts, ints) loads with torch.load and keeps its Python types', async () => {
      const src = join(tmp, 'obj-for-torch.pth');
      const dst = join(tmp, 'obj-from-torch.pth');
      await writePth(src, {
        epoch: 2,
        big: 2n ** 70n,
        lr: 1e-4,
        one: pyFloat(1),
        betas: pyTuple(0.9, 0.95),
        groups: [{ params: [0, 1], amsgrad: false, foreach: null }],
        state: new Map([[0, { step: { dtype: 'F32', shape: [], data: new Float32Array([5]) } }]]),
      });
      const v = parsePythonJson(await runPython(TORCH_LOAD, [src, dst])).value.dict as [string, any][];
      const m = new Map(v);
      expect(m.get('epoch')).toEqual({ int: '2' });
      expect(m.get('big')).toEqual({ int: String(2n ** 70n) });
      expect(m.get('lr')).toEqual({ float: 1e-4 });
      expect(m.get('one')).toEqual({ float: 1 });
      expect(m.get('betas')).toEqual({ tuple: [{ float: 0.9 }, { float: 0.95 }] });
      expect(m.get('groups')).toEqual({
        list: [
          {
            dict: [
              ['params', { list: [{ int: '0' }, { int: '1' }] }],
              ['amsgrad', false],
              ['foreach', null],
            ],
          },
        ],
      });
      expect(m.get('state').dict[0][0]).toBe(0);
      expect(m.get('state').dict[0][1].dict[0][1]).toMatchObject({ tensor: 'float32', shape: [], sum: 5 });
      expect(existsSync(dst)).toBe(true);
    });
  },
);
