import { describe, expect, test } from 'vitest';
import { CheckpointError } from '@var/core';
import { readPth, readPthObject, loadStateDict } from '../src/index.js';
import { unpickle, PyDict, type PyTuple, type PyValue } from '../src/pickle.js';
import { Float, PickleWriter, Tup, bytesOf, makePth, picklePy, swapped, tensor } from './builders.js';

async function rejects(p: Promise<unknown> | (() => unknown), pattern: RegExp): Promise<CheckpointError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a CheckpointError').toBeInstanceOf(CheckpointError);
  expect((err as Error).message).toMatch(pattern);
  return err as CheckpointError;
}

const f32 = (...v: number[]) => bytesOf(new Float32Array(v));

describe('hostile pickles', () => {
  // The classic payloads: GLOBAL / STACK_GLOBAL a dangerous callable, then REDUCE it.
  const payloads: [string, string, string, (p: PickleWriter, m: string, n: string) => void][] = [
    ['GLOBAL', 'os', 'system', (p, m, n) => p.global(m, n)],
    ['GLOBAL', 'posix', 'system', (p, m, n) => p.global(m, n)],
    ['GLOBAL', 'builtins', 'eval', (p, m, n) => p.global(m, n)],
    ['GLOBAL', '__builtin__', 'eval', (p, m, n) => p.global(m, n)],
    ['STACK_GLOBAL', 'builtins', 'exec', (p, m, n) => p.stackGlobal(m, n)],
    ['STACK_GLOBAL', 'subprocess', 'Popen', (p, m, n) => p.stackGlobal(m, n)],
    ['STACK_GLOBAL', 'os', 'system', (p, m, n) => p.stackGlobal(m, n)],
    ['GLOBAL', 'builtins', 'getattr', (p, m, n) => p.global(m, n)],
    ['GLOBAL', 'torch', 'load', (p, m, n) => p.global(m, n)],
    ['GLOBAL', 'numpy.core.multiarray', '_reconstruct', (p, m, n) => p.global(m, n)],
  ];
  for (const [how, mod, name, emitGlobal] of payloads) {
    test(`${how} ${mod}.${name} + REDUCE is refused, naming the global`, async () => {
      const p = new PickleWriter().proto(how === 'STACK_GLOBAL' ? 4 : 2);
      emitGlobal(p, mod, name);
      p.mark().str('echo pwned > /tmp/pwned').tuple().reduce().stop();
      const shown = mod === '__builtin__' ? 'builtins' : mod;
      // straight into the interpreter with the torch allow-list, via a .pth
      const pth = makePth({ pickle: p.bytes(), storages: {} });
      const err = await rejects(readPth(pth), new RegExp(`global ${shown.replace(/\./g, '\\.')}\\.${name}\\b`));
      expect(err.code).toBe('E_CHECKPOINT');
    });
  }

  test('a hostile global hidden inside an otherwise valid state dict is refused', async () => {
    const p = new PickleWriter().proto(2);
    p.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    p.str('w');
    const { emit } = await import('./builders.js');
    emit(p, tensor({ storageType: 'FloatStorage', key: '0', numel: 2, size: [2] }));
    p.str('evil');
    p.global('subprocess', 'Popen').mark().mark().str('ls').tuple().tuple().reduce();
    p.setitems().stop();
    const pth = makePth({ pickle: p.bytes(), storages: { '0': f32(1, 2) } });
    await rejects(readPth(pth), /subprocess\.Popen/);
    await rejects(readPthObject(pth), /subprocess\.Popen/);
  });

  test('REDUCE on a non-callable, BUILD on a non-object and EXT opcodes are refused', async () => {
    const label = {
      resolveGlobal: (m: string, n: string): PyValue => {
        throw new CheckpointError(`global ${m}.${n}`);
      },
    };
    expect(() => unpickle(new PickleWriter().proto().str('x').emptyTuple().reduce().stop().bytes(), label)).toThrow(/cannot call str/);
    expect(() => unpickle(new PickleWriter().proto().int(3).emptyDict().build().stop().bytes(), label)).toThrow(/BUILD/);
    expect(() => unpickle(new PickleWriter().proto().raw(0x82, 1).stop().bytes(), label)).toThrow(/extension registry/);
    expect(() => unpickle(new PickleWriter().proto().raw(0x97).stop().bytes(), label)).toThrow(/out-of-band/);
    // INST (protocol 0) goes through the same allow-list
    const inst = new Uint8Array([...new TextEncoder().encode("(S'ls'\nios\nsystem\n.")]);
    expect(() => unpickle(inst, label)).toThrow(/global os\.system/);
  });
});

describe('pickle interpreter', () => {
  const none = {
    resolveGlobal: (m: string, n: string): PyValue => {
      throw new CheckpointError(`global ${m}.${n}`);
    },
  };
  test('plain python values (protocol 2 and 4)', () => {
    for (const proto of [2, 4]) {
      const v = unpickle(
        picklePy({ i: 3, neg: -70000, big: 2 ** 40, f: new Float(2.5), s: 'héllo', n: null, t: true, l: [1, new Tup([2, 'x'])] }, proto),
        none,
      ) as PyDict;
      expect(v).toBeInstanceOf(PyDict);
      expect(v.map.get('i')).toBe(3);
      expect(v.map.get('neg')).toBe(-70000);
      expect(v.map.get('big')).toBe(2 ** 40);
      expect(v.map.get('f')).toBe(2.5);
      expect(v.map.get('s')).toBe('héllo');
      expect(v.map.get('n')).toBe(null);
      expect(v.map.get('t')).toBe(true);
      const l = v.map.get('l') as PyValue[];
      expect(l[0]).toBe(1);
      expect((l[1] as PyTuple).items).toEqual([2, 'x']);
    }
  });
  test('text opcodes of protocol 0 (INT, LONG, FLOAT, STRING, UNICODE, PUT/GET)', () => {
    const src = "(lp0\nI42\naL12345678901234567890L\naF-1.5\naS'a\\nb'\np1\naVcaf\\u00e9\nag1\na.";
    const v = unpickle(new TextEncoder().encode(src), none) as PyValue[];
    expect(v).toEqual([42, 12345678901234567890n, -1.5, 'a\nb', 'café', 'a\nb']);
  });
  test('python-2 str and protocol-2 bytes decode byte for byte (latin-1)', async () => {
    expect(unpickle(Uint8Array.from([0x80, 2, 0x55, 3, 0x41, 0x80, 0xff, 0x2e]), none)).toBe('A\x80\xff');
    // bytes as protocol 2 writes them: _codecs.encode('\x80\xff', 'latin1'), inside a checkpoint
    const p = new PickleWriter()
      .proto(2)
      .emptyDict()
      .str('b')
      .global('_codecs', 'encode')
      .str('\x80\xff')
      .str('latin1')
      .raw(0x86)
      .reduce()
      .setitem()
      .stop();
    const obj = (await readPthObject(makePth({ pickle: p.bytes(), storages: {} }))) as Map<string, Uint8Array>;
    expect([...obj.get('b')!]).toEqual([0x80, 0xff]);
  });
  test('memo: a giant index allocates nothing and an unknown index is an error', () => {
    const p = new PickleWriter().proto().int(7).put(0xfffffff0).get(0xfffffff0).stop();
    expect(unpickle(p.bytes(), none)).toBe(7);
    expect(() => unpickle(new PickleWriter().proto().get(0xfffffff0).stop().bytes(), none)).toThrow(/memo index/);
  });
  test('lengths beyond the input are rejected before slicing', () => {
    // BINUNICODE claiming 4 GiB, BINBYTES8 claiming 2^60, LONG4 claiming 2 GiB
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0xff, 0x41]), none)).toThrow(CheckpointError);
    expect(() => unpickle(Uint8Array.from([0x80, 4, 0x8e, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x41]), none)).toThrow(/exceeds/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0x7f, 1]), none)).toThrow(CheckpointError);
  });
  test('integers longer than the limit are rejected', () => {
    const big = new Uint8Array(5000).fill(1);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x8b, 0x88, 0x13, 0, 0, ...big, 0x2e]), none)).toThrow(/limit/);
  });
  test('missing STOP, stack underflow, unknown opcode', () => {
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x4e]), none)).toThrow(/no STOP/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x2e]), none)).toThrow(/underflow/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0xff]), none)).toThrow(/unknown pickle opcode 0xff/);
    expect(() => unpickle(Uint8Array.from([0x80, 9, 0x4e, 0x2e]), none)).toThrow(/protocol 9/);
  });
});

describe('synthetic .pth files', () => {
  test('archive/ prefix, byteorder "big", cuda:0 locations, a shared storage with offsets, a non-contiguous view', async () => {
    // storage "0": 12 floats, shared by a (2,3) view at offset 0 and a (4,) view at offset 6;
    // storage "1": a 2x3 float64 matrix; the tensor is its transpose (3,2) with stride (1,3);
    // storage "2": int64 [10, -20, 2^40]; all written big-endian.
    const s0 = Array.from({ length: 12 }, (_, i) => i * 0.5 - 1);
    const s1 = [1, 2, 3, 4, 5, 6];
    const s2 = [10n, -20n, 2n ** 40n];
    const sd = new Map<string, unknown>([
      ['a', tensor({ storageType: 'FloatStorage', key: '0', location: 'cuda:0', numel: 12, offset: 0, size: [2, 3] })],
      ['b', tensor({ storageType: 'FloatStorage', key: '0', location: 'cuda:0', numel: 12, offset: 6, size: [4], parameter: true })],
      ['c', tensor({ storageType: 'DoubleStorage', key: '1', location: 'cuda:1', numel: 6, offset: 0, size: [3, 2], stride: [1, 3] })],
      ['d', tensor({ storageType: 'LongStorage', key: '2', location: 'cpu', numel: 3, size: [3] })],
      // a 2x2 column slice of a 2x3 row-major matrix: offset 1, stride (3, 1)
      ['e', tensor({ storageType: 'FloatStorage', key: '0', location: 'cuda:0', numel: 12, offset: 1, size: [2, 2], stride: [3, 1] })],
    ]);
    const pth = makePth({
      prefix: 'archive/',
      pickle: picklePy(sd),
      byteorder: 'big',
      storages: {
        '0': swapped(bytesOf(new Float32Array(s0)), 4),
        '1': swapped(bytesOf(new Float64Array(s1)), 8),
        '2': swapped(bytesOf(new BigInt64Array(s2)), 8),
      },
    });
    const check = (out: Map<string, { dtype: string; shape: number[]; data: ArrayLike<unknown> }>) => {
      expect([...out.keys()]).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect(out.get('a')!.dtype).toBe('F32');
      expect(out.get('a')!.shape).toEqual([2, 3]);
      expect([...(out.get('a')!.data as Float32Array)]).toEqual(s0.slice(0, 6));
      expect([...(out.get('b')!.data as Float32Array)]).toEqual(s0.slice(6, 10));
      expect(out.get('c')!.dtype).toBe('F64');
      expect(out.get('c')!.shape).toEqual([3, 2]);
      expect([...(out.get('c')!.data as Float64Array)]).toEqual([1, 4, 2, 5, 3, 6]);
      expect(out.get('d')!.dtype).toBe('I64');
      expect([...(out.get('d')!.data as BigInt64Array)]).toEqual(s2);
      expect([...(out.get('e')!.data as Float32Array)]).toEqual([s0[1], s0[2], s0[4], s0[5]]);
    };
    check(await readPth(pth));
    check(await readPth(pth, { copy: true }));
    check(await loadStateDict(pth.buffer as ArrayBuffer));
  });

  test('little-endian byteorder record, other prefixes, deflated entries, v3 + UntypedStorage, STACK_GLOBAL', async () => {
    const vals = [1.5, -2, 3.25, 8];
    for (const prefix of ['vae/', 'my_model/', 'x/']) {
      const sd = new Map<string, unknown>([
        ['w', tensor({ storageType: 'UntypedStorage', key: '7', numel: 16, size: [2, 2], v3dtype: 'float32', stackGlobal: true })],
        ['h', tensor({ storageType: 'HalfStorage', key: '8', numel: 2, size: [2] })],
        ['m', tensor({ storageType: 'BoolStorage', key: '9', numel: 3, size: [3] })],
      ]);
      for (const deflate of [false, true]) {
        const pth = makePth({
          prefix,
          pickle: picklePy(sd, 4),
          byteorder: 'little',
          deflate,
          storages: { '7': f32(...vals), '8': bytesOf(new Uint16Array([0x3c00, 0xc000])), '9': Uint8Array.from([1, 0, 1]) },
        });
        const out = await readPth(pth);
        expect([...(out.get('w')!.data as Float32Array)]).toEqual(vals);
        expect(out.get('h')!.dtype).toBe('F16');
        expect([...(out.get('h')!.data as Uint16Array)]).toEqual([0x3c00, 0xc000]);
        expect(out.get('m')!.dtype).toBe('BOOL');
        expect([...out.get('m')!.data]).toEqual([1, 0, 1]);
      }
    }
  });

  test('trainer checkpoints: nested dicts, python values, key option and auto-detection', async () => {
    const model = new Map<string, unknown>([
      ['layer.weight', tensor({ storageType: 'FloatStorage', key: '0', location: 'cuda:0', numel: 4, size: [2, 2] })],
      ['layer.bias', tensor({ storageType: 'FloatStorage', key: '1', location: 'cuda:0', numel: 2, size: [2] })],
    ]);
    const ckpt = {
      model,
      epoch: 3,
      lr: new Float(1e-4),
      name: 'run-1',
      flags: [true, false, null],
      sizes: new Tup([1, 2, new Tup([])]),
      // per-parameter optimizer state: dicts of tensors too, but deeper than the model
      optimizer: {
        state: new Map([[0, { exp_avg: tensor({ storageType: 'FloatStorage', key: '2', numel: 4, size: [2, 2] }) }]]),
        param_groups: [{ lr: new Float(0.1), params: [0, 1] }],
      },
    };
    const storages = { '0': f32(1, 2, 3, 4), '1': f32(5, 6), '2': f32(0, 0, 0, 0) };
    const pth = makePth({ pickle: picklePy(ckpt), storages });
    const auto = await readPth(pth);
    expect([...auto.keys()]).toEqual(['layer.weight', 'layer.bias']);
    const byKey = await readPth(pth, { key: 'model' });
    expect([...(byKey.get('layer.bias')!.data as Float32Array)]).toEqual([5, 6]);
    await rejects(readPth(pth, { key: 'ema' }), /no key "ema".*"model", "epoch"/);
    await rejects(readPth(pth, { key: 'epoch' }), /"epoch" is a int, not a dict of tensors/);

    const obj = (await readPthObject(pth)) as Map<string, unknown>;
    expect(obj.get('epoch')).toBe(3);
    expect(obj.get('lr')).toBe(1e-4);
    expect(obj.get('name')).toBe('run-1');
    expect(obj.get('flags')).toEqual([true, false, null]);
    expect(obj.get('sizes')).toEqual([1, 2, []]);
    const opt = obj.get('optimizer') as Map<string, Map<number, Map<string, unknown>>>;
    expect((opt.get('state')!.get(0)!.get('exp_avg') as { shape: number[] }).shape).toEqual([2, 2]);
    const m = obj.get('model') as Map<string, { data: Float32Array }>;
    expect([...m.get('layer.weight')!.data]).toEqual([1, 2, 3, 4]);

    // two candidate state dicts: the error lists them and asks for a key
    const two = makePth({ pickle: picklePy({ model, ema: model, step: 10 }), storages });
    await rejects(readPth(two), /several dicts of tensors \("model", "ema"\).*key: \["model"\]/);
    expect((await readPth(two, { key: ['ema'] })).size).toBe(2);
    // nested path
    const nested = makePth({ pickle: picklePy({ trainer: { var_wo_ddp: model, other: 1 } }), storages });
    expect((await readPth(nested, { key: ['trainer', 'var_wo_ddp'] })).size).toBe(2);
    expect((await readPth(nested)).size).toBe(2);
  });

  test('only the storages of the chosen state dict are read', async () => {
    const mk = (key: string) => new Map([['w', tensor({ storageType: 'FloatStorage', key, numel: 2, size: [2] })]]);
    const pth = makePth({ pickle: picklePy({ model: mk('0'), ema: mk('1') }), storages: { '0': f32(1, 2), '1': f32(3, 4) } });
    // corrupt storage "1" (the ema's): its CRC no longer matches
    const needle = f32(3, 4);
    const bad = pth.slice();
    for (let i = 0; i + 8 <= bad.length; i++) if (needle.every((b, j) => bad[i + j] === b)) bad[i] ^= 1;
    expect([...((await readPth(bad, { key: 'model' })).get('w')!.data as Float32Array)]).toEqual([1, 2]);
    await rejects(readPth(bad, { key: 'ema' }), /data\/1" is corrupt/);
  });

  test('structural errors: missing storage, wrong storage size, view outside its storage, bad location, legacy format', async () => {
    const one = (spec: Parameters<typeof tensor>[0], storages: Record<string, Uint8Array>) =>
      makePth({ pickle: picklePy(new Map([['t', tensor(spec)]])), storages });
    await rejects(readPth(one({ storageType: 'FloatStorage', key: '0', numel: 2, size: [2] }, {})), /missing from the archive/);
    await rejects(
      readPth(one({ storageType: 'FloatStorage', key: '0', numel: 3, size: [3] }, { '0': f32(1, 2) })),
      /should hold 3 F32 elements/,
    );
    // a lying storage size of 2^60 elements is rejected against the zip entry, before any allocation
    await rejects(
      readPth(one({ storageType: 'FloatStorage', key: '0', numel: 2 ** 40, size: [2] }, { '0': f32(1, 2) })),
      /should hold 1099511627776 F32/,
    );
    await rejects(readPth(one({ storageType: 'FloatStorage', key: '0', numel: 2 ** 52, size: [2] }, { '0': f32(1, 2) })), /too large/);
    await rejects(
      readPth(one({ storageType: 'FloatStorage', key: '0', numel: 2, offset: 1, size: [2] }, { '0': f32(1, 2) })),
      /reaches element 2/,
    );
    await rejects(
      readPth(one({ storageType: 'FloatStorage', key: '0', numel: 2, size: [2, 2], stride: [1, 1] }, { '0': f32(1, 2) })),
      /reaches element 2/,
    );
    await rejects(
      readPth(one({ storageType: 'FloatStorage', key: '0', numel: 2, size: [2], location: 'cpu; rm -rf' }, { '0': f32(1, 2) })),
      /invalid location/,
    );
    await rejects(
      readPth(one({ storageType: 'ComplexFloatStorage', key: '0', numel: 1, size: [1] }, { '0': f32(1, 2) })),
      /ComplexFloatStorage is not supported/,
    );
    // a stride-0 broadcast of one element to 2^40 elements is refused before allocating
    await rejects(
      readPth(one({ storageType: 'FloatStorage', key: '0', numel: 1, size: [2 ** 20, 2 ** 20], stride: [0, 0] }, { '0': f32(1) })),
      /would expand 4 storage bytes/,
    );
    // a small broadcast is materialised
    const small = await readPth(one({ storageType: 'FloatStorage', key: '0', numel: 1, size: [2, 3], stride: [0, 0] }, { '0': f32(7) }));
    expect([...(small.get('t')!.data as Float32Array)]).toEqual([7, 7, 7, 7, 7, 7]);
    // byteorder must be little or big
    await rejects(readPth(makePth({ pickle: picklePy(new Map()), storages: {}, byteorder: 'middle' })), /byteorder/);
    // legacy (non-zip) torch.save output
    const legacy = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    await rejects(readPth(legacy), /legacy \(pre-1\.6/);
    await rejects(loadStateDict(legacy), /legacy/);
    await rejects(readPth(new Uint8Array(100)), /not a PyTorch zip/);
    await rejects(loadStateDict(new Uint8Array(100)), /unrecognised checkpoint format/);
  });

  test('deep nesting and self-references end in a CheckpointError or a result, not a stack overflow or a hang', async () => {
    // 100k nested lists: [[[[...]]]]
    const p = new PickleWriter().proto(2);
    for (let i = 0; i < 100_000; i++) p.emptyList();
    for (let i = 0; i < 99_999; i++) p.op('a');
    const deep = makePth({ pickle: p.stop().bytes(), storages: {} });
    await rejects(readPthObject(deep), /nested more than 1000 levels/);
    await rejects(readPth(deep), /not a dict of tensors/);
    // a list that contains itself, and a dict shared 1000 times
    const self = new PickleWriter().proto(2).emptyList().put(0).get(0).op('a').stop();
    const obj = (await readPthObject(makePth({ pickle: self.bytes(), storages: {} }))) as unknown[];
    expect(obj[0]).toBe(obj);
    const shared = new PickleWriter().proto(2).emptyDict().put(0).emptyList().mark();
    for (let i = 0; i < 1000; i++) shared.get(0);
    shared.appends().stop();
    await rejects(readPth(makePth({ pickle: shared.bytes(), storages: {} })), /not a dict of tensors/);
  });

  test('a large deflated storage inflates correctly', async () => {
    const big = new Float32Array(100_000).map((_, i) => Math.round(Math.sin(i) * 8)); // compressible, > 16 KiB steps
    const pth = makePth({
      pickle: picklePy(new Map([['t', tensor({ storageType: 'FloatStorage', key: '0', numel: big.length, size: [big.length] })]])),
      storages: { '0': bytesOf(big) },
      deflate: true,
    });
    const got = (await readPth(pth)).get('t')!.data as Float32Array;
    expect(got.length).toBe(big.length);
    expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(big.buffer))).toBe(true);
  });

  test('CRC mismatches are detected', async () => {
    const pth = makePth({
      pickle: picklePy(new Map([['t', tensor({ storageType: 'FloatStorage', key: '0', numel: 2, size: [2] })]])),
      storages: { '0': f32(1, 2) },
    });
    // flip a bit in the storage bytes (find them by value)
    const needle = f32(1, 2);
    let at = -1;
    for (let i = 0; i + needle.length <= pth.length && at < 0; i++) if (needle.every((b, j) => pth[i + j] === b)) at = i;
    const bad = pth.slice();
    bad[at] ^= 1;
    await rejects(readPth(bad), /CRC-32/);
    const out = await readPth(bad, { verifyCrc: false });
    expect((out.get('t')!.data as Float32Array)[1]).toBe(2);
  });
});

describe('crc32', () => {
  test('matches the standard check value and is independent of alignment and chunking', async () => {
    const { crc32 } = await import('../src/index.js');
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 2654435761) >>> 24);
    const whole = crc32(data);
    for (const off of [1, 2, 3, 5]) {
      const shifted = new Uint8Array(data.length + off);
      shifted.set(data, off);
      expect(crc32(shifted.subarray(off))).toBe(whole);
      // short, misaligned inputs
      for (const len of [0, 1, 3, 7, 15, 16, 17]) expect(crc32(shifted.subarray(off, off + len))).toBe(crc32(data.slice(0, len)));
    }
    expect(crc32(data.subarray(333), crc32(data.subarray(0, 333)))).toBe(whole);
  });

  test('the JavaScript CRC (browsers) equals the one in use (Node: zlib) on every length, alignment and continuation', async () => {
    const { crc32 } = await import('../src/index.js');
    const { crc32JS } = await import('../src/zip.js');
    const data = Uint8Array.from({ length: 4099 }, (_, i) => (i * 2246822519 + 7) >>> 23);
    expect(crc32JS(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    for (const [off, len] of [
      [0, 4099],
      [1, 4000],
      [3, 17],
      [5, 0],
      [7, 1024],
    ]) {
      const part = data.subarray(off, off + len);
      expect(crc32JS(part)).toBe(crc32(part));
      expect(crc32JS(part.subarray(9), crc32JS(part.subarray(0, 9)))).toBe(crc32(part));
    }
    expect(crc32(data)).toBeGreaterThanOrEqual(0); // unsigned, as the zip directory stores it
  });
});
