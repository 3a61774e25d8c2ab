import { mkdtemp, readdir, readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CheckpointError, ValueError } from '@var/core';
import {
  DTYPES,
  loadStateDict,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  type DType,
  type RawTensor,
  type StateDict,
} from '../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'var-ckpt-st-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One tensor of every dtype, with values that exercise sign, range and odd sizes. */
function allDtypes(): StateDict {
  const sd: StateDict = new Map();
  const make = (dtype: DType, shape: number[], data: RawTensor['data']) => sd.set(`t.${dtype}`, { dtype, shape, data });
  make('F64', [2, 2], new Float64Array([Math.PI, -0, Number.MIN_VALUE, 1e308]));
  make('F32', [3], new Float32Array([1.5, -Infinity, NaN]));
  make('F16', [1, 3], new Uint16Array([0x3c00, 0x7bff, 0x8001]));
  make('BF16', [2], new Uint16Array([0x3f80, 0xff80]));
  make('I64', [2], new BigInt64Array([-(2n ** 62n), 2n ** 62n + 5n]));
  make('I32', [3], new Int32Array([-(2 ** 31), 0, 2 ** 31 - 1]));
  make('I16', [1], new Int16Array([-12345]));
  make('I8', [3], new Int8Array([-128, 0, 127]));
  make('U8', [5], new Uint8Array([0, 1, 2, 254, 255]));
  make('BOOL', [2], new Uint8Array([1, 0]));
  sd.set('scalar', { dtype: 'F32', shape: [], data: new Float32Array([42]) });
  sd.set('empty', { dtype: 'F32', shape: [0, 3], data: new Float32Array(0) });
  return sd;
}

function expectSameTensors(a: StateDict, b: StateDict) {
  expect([...a.keys()]).toEqual([...b.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    expect(u.dtype, k).toBe(t.dtype);
    expect(u.shape, k).toEqual(t.shape);
    expect(u.data.constructor, k).toBe(t.data.constructor);
    expect(
      Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(
        Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      ),
      k,
    ).toBe(true);
  }
}

/** Build a file from a header object and a data buffer. */
function fileOf(header: unknown, data: Uint8Array = new Uint8Array(0), rawHeader?: string): Uint8Array {
  const h = new TextEncoder().encode(rawHeader ?? JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  test('round-trips every dtype, scalars, empty tensors and metadata (bytes, path, Response)', async () => {
    const sd = allDtypes();
    const meta = { format: 'pt', note: 'ünïcode' };
    const bytes = serializeSafetensors(sd, meta);
    // header padded to a multiple of 8, and every tensor aligned to its element size
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const parsed = parseSafetensors(bytes);
    expectSameTensors(sd, parsed.tensors);
    expect(parsed.metadata).toEqual(meta);
    for (const t of parsed.tensors.values()) expect(t.data.byteOffset % t.data.BYTES_PER_ELEMENT).toBe(0);

    const path = join(dir, 'all.safetensors');
    await writeSafetensors(path, sd, meta);
    expect(new Uint8Array(await readFile(path))).toEqual(bytes);
    const fromPath = await readSafetensors(path);
    expectSameTensors(sd, fromPath.tensors);
    expect(fromPath.metadata).toEqual(meta);
    expectSameTensors(sd, (await readSafetensors(new Response(bytes as Uint8Array<ArrayBuffer>))).tensors);
    expectSameTensors(sd, (await readSafetensors(bytes.buffer as ArrayBuffer)).tensors);
    expectSameTensors(sd, await loadStateDict(path));
    // a plain object works as input too, and filter selects tensors
    const obj = Object.fromEntries(sd);
    expectSameTensors(sd, parseSafetensors(serializeSafetensors(obj, meta)).tensors);
    expect([...(await readSafetensors(path, { filter: (k) => k.startsWith('t.I') })).tensors.keys()]).toEqual([
      't.I64',
      't.I32',
      't.I16',
      't.I8',
    ]);
    expect(DTYPES.every((d) => sd.has(`t.${d}`))).toBe(true);
  });

  test('zero-copy views by default, copies on request', () => {
    const sd: StateDict = new Map([['x', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]);
    const bytes = serializeSafetensors(sd);
    const view = parseSafetensors(bytes).tensors.get('x')!.data;
    const copy = parseSafetensors(bytes, { copy: true }).tensors.get('x')!.data;
    expect(view.buffer).toBe(bytes.buffer);
    expect(copy.buffer).not.toBe(bytes.buffer);
    // misaligned input is copied rather than viewed
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect([...(parseSafetensors(shifted.subarray(1)).tensors.get('x')!.data as Float32Array)]).toEqual([1, 2]);
  });

  test('header validation', () => {
    const f4 = new Uint8Array(8);
    const bad: [string, Uint8Array, RegExp][] = [
      ['too short', new Uint8Array(5), /fewer than the 8-byte/],
      [
        'header length 2^60',
        (() => {
          const b = new Uint8Array(16);
          new DataView(b.buffer).setBigUint64(0, 2n ** 60n, true);
          return b;
        })(),
        /exceeds the 100000000-byte limit/,
      ],
      [
        'header past the end',
        (() => {
          const b = fileOf({});
          new DataView(b.buffer).setBigUint64(0, 1000n, true);
          return b;
        })(),
        /runs past the end/,
      ],
      ['not JSON', fileOf(null, undefined, '{"a": '), /not valid JSON/],
      ['not an object', fileOf(null, undefined, '[1,2]  '), /must start with "\{"/],
      ['invalid UTF-8', fileOf(null, undefined, '{"\udc00": 1}').map((b, i) => (i === 10 ? 0xff : b)), /UTF-8|JSON/],
      ['unknown dtype', fileOf({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unsupported dtype "F8"/],
      ['negative dim', fileOf({ a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }), /invalid dimension -1/],
      ['fractional dim', fileOf({ a: { dtype: 'U8', shape: [1.5], data_offsets: [0, 0] } }), /invalid dimension 1.5/],
      [
        'size × dtype ≠ bytes',
        fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, f4.subarray(0, 4)),
        /needs 8 bytes but data_offsets \[0, 4\] span 4/,
      ],
      [
        'tensor past the end',
        fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, f4.subarray(0, 4)),
        /ends at byte 8 of a 4-byte/,
      ],
      [
        'huge tensor claim',
        fileOf({ a: { dtype: 'F64', shape: [2 ** 30, 2 ** 30], data_offsets: [0, 2 ** 63] } }),
        /data_offsets|more elements|ends at byte/,
      ],
      ['begin > end', fileOf({ a: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, f4), /begin > end/],
      [
        'overlap',
        fileOf(
          { a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } },
          f4.subarray(0, 6),
        ),
        /overlaps/,
      ],
      ['hole', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, f4), /belong to no tensor/],
      ['trailing bytes', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, f4), /cover 4 bytes but the data buffer has 8/],
      ['bad offsets', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, f4), /invalid data_offsets/],
      ['metadata not strings', fileOf({ __metadata__: { a: 1 } }), /__metadata__\["a"\] must be a string/],
      ['entry not an object', fileOf({ a: 3 }), /entry "a" is not an object/],
    ];
    for (const [what, bytes, re] of bad) {
      let err: unknown;
      try {
        parseSafetensors(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(CheckpointError);
      expect((err as Error).message, what).toMatch(re);
    }
    // whitespace padding after the JSON is allowed, as are zero-sized tensors sharing an offset
    const ok = fileOf(
      null,
      f4.subarray(0, 4),
      JSON.stringify({
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
        z: { dtype: 'U8', shape: [0, 5], data_offsets: [4, 4] },
      }) + '    ',
    );
    expect(parseSafetensors(ok).tensors.size).toBe(3);
    // "__proto__" is an ordinary tensor name
    const proto = fileOf(null, f4.subarray(0, 4), '{"__proto__": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}');
    expect([...parseSafetensors(proto).tensors.keys()]).toEqual(['__proto__']);
  });

  test('bad tensors given to the writer are ValueErrors', () => {
    const bad: [string, unknown, RegExp][] = [
      ['dtype', { x: { dtype: 'F8', shape: [1], data: new Float32Array(1) } }, /unknown dtype "F8"/],
      ['array type', { x: { dtype: 'F16', shape: [1], data: new Float32Array(1) } }, /F16 needs data as Uint16Array, found Float32Array/],
      ['length', { x: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }, /has 4 elements but data has 3/],
      ['reserved name', { __metadata__: { dtype: 'F32', shape: [1], data: new Float32Array(1) } }, /reserved/],
    ];
    for (const [what, sd, re] of bad) expect(() => serializeSafetensors(sd as Record<string, RawTensor>), what).toThrow(re);
    expect(() => serializeSafetensors({}, { a: 1 as unknown as string })).toThrow(ValueError);
  });

  test('writes are atomic: an existing file survives a failed write and no temporary file is left', async () => {
    const path = join(dir, 'atomic.safetensors');
    const good: StateDict = new Map([['a', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }]]);
    await writeSafetensors(path, good);
    const before = await readFile(path);
    // invalid input: rejected before anything is written
    await expect(writeSafetensors(path, { a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).rejects.toThrow(ValueError);
    expect((await readFile(path)).equals(before)).toBe(true);
    // failure at rename time: the destination is a non-empty directory
    const target = join(dir, 'is-a-dir');
    await mkdir(target);
    await writeFile(join(target, 'keep'), 'x');
    await expect(writeSafetensors(target, good)).rejects.toThrow();
    // failure at open time: the directory does not exist
    await expect(writeSafetensors(join(dir, 'no', 'such', 'x.safetensors'), good)).rejects.toThrow();
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((await readFile(path)).equals(before)).toBe(true);
    // overwriting succeeds and replaces the content
    await writeSafetensors(path, new Map([['b', { dtype: 'I8', shape: [1], data: new Int8Array([3]) }]]));
    expect([...(await readSafetensors(path)).tensors.keys()]).toEqual(['b']);
  });

  test('readSafetensors from a path validates before reading tensors and reports the path', async () => {
    const path = join(dir, 'truncated.safetensors');
    const bytes = serializeSafetensors(allDtypes());
    await writeFile(path, bytes.subarray(0, bytes.length - 3));
    await expect(readSafetensors(path)).rejects.toThrow(
      new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: invalid safetensors file`),
    );
    await expect(readSafetensors(join(dir, 'missing.safetensors'))).rejects.toThrow(/cannot open checkpoint/);
    await expect(readSafetensors(new Response('nope', { status: 404 }))).rejects.toThrow(/HTTP 404/);
  });
});
