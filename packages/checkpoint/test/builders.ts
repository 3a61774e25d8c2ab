/**
 * Test-only builders: a tiny pickle writer (opcode by opcode, as Python's pickler
 * would emit them) and a PyTorch-style zip writer (stored entries, via fflate's
 * zip writer, independent of the package's zip reader).
 */
import { zipSync, type Zippable } from 'fflate';

export class PickleWriter {
  readonly out: number[] = [];
  raw(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  op(c: string | number): this {
    this.out.push(typeof c === 'string' ? c.charCodeAt(0) : c);
    return this;
  }
  private u32(n: number) {
    this.out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  private ascii(s: string) {
    for (let i = 0; i < s.length; i++) this.out.push(s.charCodeAt(i));
  }
  proto(v = 2): this {
    return this.raw(0x80, v);
  }
  /** GLOBAL 'module\nname\n' */
  global(module: string, name: string): this {
    this.op('c');
    this.ascii(`${module}\n${name}\n`);
    return this;
  }
  /** SHORT_BINUNICODE module, SHORT_BINUNICODE name, STACK_GLOBAL */
  stackGlobal(module: string, name: string): this {
    return this.shortStr(module).shortStr(name).raw(0x93);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.op('X');
    this.u32(b.length);
    this.out.push(...b);
    return this;
  }
  shortStr(s: string): this {
    const b = new TextEncoder().encode(s);
    this.raw(0x8c, b.length);
    this.out.push(...b);
    return this;
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.raw(0x4b, n);
    if (n >= 0 && n < 65536) return this.raw(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.op('J');
      this.u32(n >>> 0);
      return this;
    }
    // LONG1, little-endian two's complement
    let v = BigInt(n);
    const bytes: number[] = [];
    for (let i = 0; i < 8; i++) {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    }
    return this.raw(0x8a, 8, ...bytes);
  }
  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.raw(0x47, ...b);
  }
  none(): this {
    return this.op('N');
  }
  bool(b: boolean): this {
    return this.raw(b ? 0x88 : 0x89);
  }
  mark(): this {
    return this.op('(');
  }
  tuple(): this {
    return this.op('t');
  }
  emptyTuple(): this {
    return this.op(')');
  }
  emptyList(): this {
    return this.op(']');
  }
  appends(): this {
    return this.op('e');
  }
  emptyDict(): this {
    return this.op('}');
  }
  setitem(): this {
    return this.op('s');
  }
  setitems(): this {
    return this.op('u');
  }
  reduce(): this {
    return this.op('R');
  }
  build(): this {
    return this.op('b');
  }
  binpersid(): this {
    return this.op('Q');
  }
  put(i: number): this {
    if (i < 256) return this.raw(0x71, i);
    this.op('r');
    this.u32(i);
    return this;
  }
  get(i: number): this {
    if (i < 256) return this.raw(0x68, i);
    this.op('j');
    this.u32(i);
    return this;
  }
  stop(): this {
    return this.op('.');
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** A float in {@link emit} input (plain JS numbers are emitted as ints). */
export class Float {
  constructor(readonly v: number) {}
}
/** A tuple in {@link emit} input. */
export class Tup {
  constructor(readonly items: unknown[]) {}
}

/** A tensor to pickle the way torch does (persistent-id storage + _rebuild_tensor_v2/v3). */
export interface TensorSpec {
  kind: 'tensor';
  storageType: string; // e.g. 'FloatStorage', 'UntypedStorage'
  key: string;
  location?: string;
  numel: number; // storage numel (bytes for UntypedStorage)
  offset?: number;
  size: number[];
  stride?: number[];
  /** Emit _rebuild_tensor_v3 with this torch dtype name (e.g. 'float32'). */
  v3dtype?: string;
  /** Wrap in torch._utils._rebuild_parameter (as nn.Parameter pickles). */
  parameter?: boolean;
  /** Use STACK_GLOBAL (protocol 4 style) instead of GLOBAL. */
  stackGlobal?: boolean;
}

export function tensor(spec: Omit<TensorSpec, 'kind'>): TensorSpec {
  return { kind: 'tensor', ...spec };
}

function contiguousStride(size: number[]): number[] {
  const s = new Array(size.length).fill(1);
  for (let i = size.length - 2; i >= 0; i--) s[i] = s[i + 1] * size[i + 1];
  return s;
}

function globalOf(p: PickleWriter, m: string, n: string, stack?: boolean) {
  if (stack) p.stackGlobal(m, n);
  else p.global(m, n);
}

/** Emit a JS description of a Python value. Maps and plain objects become dicts (Maps as OrderedDict). */
export function emit(p: PickleWriter, v: unknown): void {
  if (v === null || v === undefined) p.none();
  else if (typeof v === 'boolean') p.bool(v);
  else if (typeof v === 'number') p.int(v);
  else if (v instanceof Float) p.float(v.v);
  else if (typeof v === 'string') p.str(v);
  else if (v instanceof Tup) {
    p.mark();
    for (const x of v.items) emit(p, x);
    p.tuple();
  } else if (Array.isArray(v)) {
    p.emptyList().mark();
    for (const x of v) emit(p, x);
    p.appends();
  } else if ((v as TensorSpec).kind === 'tensor') {
    const t = v as TensorSpec;
    const sg = t.stackGlobal;
    if (t.parameter) globalOf(p, 'torch._utils', '_rebuild_parameter', sg);
    if (t.parameter) p.mark();
    globalOf(p, 'torch._utils', t.v3dtype ? '_rebuild_tensor_v3' : '_rebuild_tensor_v2', sg);
    p.mark();
    // persistent id ('storage', type, key, location, numel)
    p.mark().str('storage');
    globalOf(p, 'torch', t.storageType, sg);
    p.str(t.key)
      .str(t.location ?? 'cpu')
      .int(t.numel)
      .tuple()
      .binpersid();
    p.int(t.offset ?? 0);
    emit(p, new Tup(t.size));
    emit(p, new Tup(t.stride ?? contiguousStride(t.size)));
    p.bool(false);
    globalOf(p, 'collections', 'OrderedDict', sg);
    p.emptyTuple().reduce();
    if (t.v3dtype) globalOf(p, 'torch', t.v3dtype, sg);
    p.tuple().reduce();
    if (t.parameter) {
      p.bool(true);
      globalOf(p, 'collections', 'OrderedDict', sg);
      p.emptyTuple().reduce().tuple().reduce();
    }
  } else if (v instanceof Map) {
    p.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    for (const [k, x] of v) {
      emit(p, k);
      emit(p, x);
    }
    p.setitems();
  } else if (typeof v === 'object') {
    p.emptyDict().mark();
    for (const [k, x] of Object.entries(v as object)) {
      emit(p, k);
      emit(p, x);
    }
    p.setitems();
  } else throw new Error(`emit: cannot pickle ${typeof v}`);
}

/** A whole pickle (protocol 2) of `v`. */
export function picklePy(v: unknown, proto = 2): Uint8Array {
  const p = new PickleWriter().proto(proto);
  emit(p, v);
  return p.stop().bytes();
}

export interface PthSpec {
  prefix?: string; // default 'archive/'
  pickle: Uint8Array;
  storages: Record<string, Uint8Array>;
  byteorder?: 'little' | 'big' | string;
  /** Deflate the entries (level 6) instead of storing them. */
  deflate?: boolean;
}

/** Zip a torch-style checkpoint. */
export function makePth(spec: PthSpec): Uint8Array {
  const prefix = spec.prefix ?? 'archive/';
  const level = spec.deflate ? 6 : 0;
  const files: Zippable = {};
  files[`${prefix}data.pkl`] = [spec.pickle, { level }];
  if (spec.byteorder !== undefined) files[`${prefix}byteorder`] = [new TextEncoder().encode(spec.byteorder), { level }];
  for (const [k, b] of Object.entries(spec.storages)) files[`${prefix}data/${k}`] = [b, { level }];
  files[`${prefix}version`] = [new TextEncoder().encode('3\n'), { level }];
  return zipSync(files);
}

export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

/** Reverse the bytes of each `size`-byte element (big-endian storages). */
export function swapped(b: Uint8Array, size: number): Uint8Array {
  const o = b.slice();
  for (let i = 0; i < o.length; i += size) o.subarray(i, i + size).reverse();
  return o;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
