/**
 * A pickle writer (protocol 2) for the objects `torch.save` writes: dicts (plain or
 * `collections.OrderedDict`), lists, tuples, str, int, float, bool, None and tensors,
 * which are pickled as `torch._utils._rebuild_tensor_v2` calls on persistent-id storages
 * (`('storage', torch.FloatStorage, key, 'cpu', numel)`), the bytes of each storage going
 * to a separate archive entry.
 *
 * Only opcodes that torch's `weights_only` unpickler (torch 1.13 and later) understands
 * are emitted, except BINFLOAT for Python floats, which torch 1.13's `weights_only`
 * does not know: a file with floats (an optimizer state, trainer arguments) loads with a
 * plain `torch.load`, as the official trainer loads its checkpoints; a state dict of
 * tensors and ints loads with `weights_only=True` too.
 */
import { ShapeError, ValueError } from '@var/core/errors';
import { checkRawTensor, fmtShape, type DType, type RawTensor, type TensorData } from './dtypes.js';

/** A Python tuple in a value given to {@link pickleTorch} (JS arrays become lists). */
export class PickleTuple {
  readonly items: readonly PickleValue[];
  constructor(items: readonly PickleValue[]) {
    this.items = items;
  }
}

/** A Python float whose value happens to be integral (`1.0`); other non-integer numbers are floats anyway. */
export class PickleFloat {
  constructor(readonly value: number) {}
}

/** A `collections.OrderedDict` (what `module.state_dict()` returns); a plain `Map` or object becomes a `dict`. */
export class PickleOrderedDict {
  readonly map: ReadonlyMap<string | number, PickleValue>;
  constructor(entries: ReadonlyMap<string | number, PickleValue> | Iterable<[string | number, PickleValue]>) {
    this.map = entries instanceof Map ? entries : new Map(entries);
  }
}

/**
 * A tensor to pickle: a dense {@link RawTensor}, optionally with the `strides` of the view
 * it came from (in elements); only row-major contiguous strides are accepted.
 */
export type PickleTensor = RawTensor & { strides?: readonly number[] };

/** What {@link pickleTorch} accepts. Numbers that are integers are Python ints, others floats. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PickleFloat
  | PickleTuple
  | PickleOrderedDict
  | PickleTensor
  | readonly PickleValue[]
  | ReadonlyMap<string | number, PickleValue>
  | { readonly [key: string]: PickleValue };

/** `pyTuple(a, b)` → the Python tuple `(a, b)`. */
export function pyTuple(...items: PickleValue[]): PickleTuple {
  return new PickleTuple(items);
}
/** `pyFloat(1)` → the Python float `1.0`. */
export function pyFloat(value: number): PickleFloat {
  return new PickleFloat(value);
}
/** An `OrderedDict` with the entries in the given order. */
export function pyOrderedDict(
  entries: ReadonlyMap<string | number, PickleValue> | Iterable<[string | number, PickleValue]>,
): PickleOrderedDict {
  return new PickleOrderedDict(entries);
}

/** The storage class torch pickles for each dtype. */
export const STORAGE_CLASS: Readonly<Record<DType, string>> = {
  F64: 'DoubleStorage',
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
  I64: 'LongStorage',
  I32: 'IntStorage',
  I16: 'ShortStorage',
  I8: 'CharStorage',
  U8: 'ByteStorage',
  BOOL: 'BoolStorage',
};

/** One storage of the archive: its key (the entry `data/<key>`) and the tensor holding its bytes. */
export interface PickledStorage {
  key: string;
  tensor: RawTensor;
}

export interface PickledTorchObject {
  /** The bytes of `data.pkl`. */
  pickle: Uint8Array;
  /** The storages in key order (`'0'`, `'1'`, …). */
  storages: PickledStorage[];
}

/** Nesting limit (Python's default recursion limit is about this deep). */
const MAX_DEPTH = 900;

const utf8 = new TextEncoder();

function isRawTensorLike(v: object): v is PickleTensor {
  return 'dtype' in v && 'shape' in v && 'data' in v;
}

class ByteSink {
  private buf = new Uint8Array(1 << 12);
  length = 0;
  private grow(n: number) {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const b = new Uint8Array(cap);
    b.set(this.buf.subarray(0, this.length));
    this.buf = b;
  }
  byte(...b: number[]) {
    this.grow(b.length);
    for (const x of b) this.buf[this.length++] = x;
  }
  bytes(b: Uint8Array) {
    this.grow(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  u32(n: number) {
    this.byte(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const OP = {
  MARK: 0x28, // (
  STOP: 0x2e, // .
  BININT: 0x4a, // J
  BININT1: 0x4b, // K
  BININT2: 0x4d, // M
  NONE: 0x4e, // N
  BINPERSID: 0x51, // Q
  REDUCE: 0x52, // R
  BINUNICODE: 0x58, // X
  EMPTY_LIST: 0x5d, // ]
  APPENDS: 0x65, // e
  GLOBAL: 0x63, // c
  BINFLOAT: 0x47, // G
  TUPLE: 0x74, // t
  EMPTY_TUPLE: 0x29, // )
  SETITEMS: 0x75, // u
  EMPTY_DICT: 0x7d, // }
  PROTO: 0x80,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
} as const;

/** Items per MARK … APPENDS / SETITEMS batch (as Python's pickler). */
const BATCH = 1000;

/**
 * Pickle `value` the way `torch.save` does (protocol 2), collecting the tensors' storages.
 * A typed array shared by several tensors is written once (one storage, as in PyTorch).
 * @throws ValueError for values Python cannot hold here (undefined, functions, symbols,
 *   NaN keys, unknown dtypes, data that does not match the shape), with the path to the value
 * @throws ShapeError for a tensor view whose strides are not row-major contiguous
 */
export function pickleTorch(value: PickleValue): PickledTorchObject {
  const out = new ByteSink();
  const storages: PickledStorage[] = [];
  const storageOf = new Map<TensorData, string>();
  const active = new Set<object>();

  const str = (s: string) => {
    const b = utf8.encode(s);
    out.byte(OP.BINUNICODE);
    out.u32(b.length);
    out.bytes(b);
  };
  const global = (module: string, name: string) => {
    out.byte(OP.GLOBAL);
    out.bytes(utf8.encode(`${module}\n${name}\n`));
  };
  const int = (n: number | bigint, where: string) => {
    if (typeof n === 'number' && !Number.isSafeInteger(n))
      throw new ValueError(`${where}: the integer ${n} is not exactly representable (beyond 2^53); pass a bigint`);
    const b = BigInt(n);
    if (b >= 0n && b < 256n) out.byte(OP.BININT1, Number(b));
    else if (b >= 0n && b < 65536n) out.byte(OP.BININT2, Number(b) & 0xff, Number(b) >> 8);
    else if (b >= -(2n ** 31n) && b < 2n ** 31n) {
      out.byte(OP.BININT);
      out.u32(Number(BigInt.asUintN(32, b)));
    } else {
      // LONG1: little-endian two's complement, shortest form
      const bytes: number[] = [];
      let v = b;
      for (;;) {
        bytes.push(Number(v & 0xffn));
        v >>= 8n;
        const last = bytes[bytes.length - 1];
        if ((v === 0n && (last & 0x80) === 0) || (v === -1n && (last & 0x80) !== 0)) break;
      }
      if (bytes.length > 255) throw new ValueError(`${where}: the integer ${b} needs more than 255 bytes`);
      out.byte(OP.LONG1, bytes.length, ...bytes);
    }
  };
  const float = (x: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    out.byte(OP.BINFLOAT);
    out.bytes(b);
  };
  const tupleOf = (items: (() => void)[]) => {
    if (items.length === 0) return out.byte(OP.EMPTY_TUPLE);
    if (items.length <= 3) {
      items.forEach((f) => f());
      return out.byte([OP.TUPLE1, OP.TUPLE2, OP.TUPLE3][items.length - 1]);
    }
    out.byte(OP.MARK);
    items.forEach((f) => f());
    out.byte(OP.TUPLE);
  };

  const tensor = (t: PickleTensor, where: string) => {
    checkRawTensor(where, t);
    const shape = t.shape;
    const contiguous: number[] = new Array(shape.length);
    let acc = 1;
    for (let i = shape.length - 1; i >= 0; i--) {
      contiguous[i] = acc;
      acc *= shape[i];
    }
    if (t.strides !== undefined) {
      const s = t.strides;
      const same = Array.isArray(s) && s.length === shape.length && s.every((x, i) => x === contiguous[i] || shape[i] === 1);
      if (!same) {
        throw new ShapeError(
          `${where}: a non-contiguous view (shape ${fmtShape(shape)}, strides ${fmtShape(Array.isArray(s) ? s : [])}; row-major needs ${fmtShape(contiguous)}) cannot be written; copy it into a dense row-major array first`,
        );
      }
    }
    let key = storageOf.get(t.data);
    if (key === undefined) {
      key = String(storages.length);
      storageOf.set(t.data, key);
      storages.push({ key, tensor: { dtype: t.dtype, shape: [...shape], data: t.data } });
    }
    global('torch._utils', '_rebuild_tensor_v2');
    out.byte(OP.MARK);
    // persistent id: ('storage', torch.<X>Storage, key, location, numel)
    out.byte(OP.MARK);
    str('storage');
    global('torch', STORAGE_CLASS[t.dtype]);
    str(key);
    str('cpu');
    int(t.data.length, where);
    out.byte(OP.TUPLE, OP.BINPERSID);
    int(0, where); // storage offset
    tupleOf(shape.map((d) => () => int(d, where)));
    tupleOf(contiguous.map((d) => () => int(d, where)));
    out.byte(OP.NEWFALSE); // requires_grad
    global('collections', 'OrderedDict'); // backward hooks
    out.byte(OP.EMPTY_TUPLE, OP.REDUCE);
    out.byte(OP.TUPLE, OP.REDUCE);
  };

  const dictItems = (entries: Iterable<[unknown, PickleValue]>, where: string, depth: number) => {
    let n = 0;
    for (const [k, v] of entries) {
      if (n % BATCH === 0) {
        if (n > 0) out.byte(OP.SETITEMS);
        out.byte(OP.MARK);
      }
      if (typeof k === 'string') str(k);
      else if (typeof k === 'number' && Number.isInteger(k)) int(k, where);
      else throw new ValueError(`${where}: dict keys must be strings or integers, found ${typeof k === 'number' ? String(k) : typeof k}`);
      emit(v, `${where}[${JSON.stringify(k)}]`, depth + 1);
      n++;
    }
    if (n > 0) out.byte(OP.SETITEMS);
  };

  const emit = (v: PickleValue, where: string, depth: number): void => {
    if (depth > MAX_DEPTH) throw new ValueError(`${where}: nested more than ${MAX_DEPTH} levels deep`);
    if (v === null) return out.byte(OP.NONE);
    switch (typeof v) {
      case 'boolean':
        return out.byte(v ? OP.NEWTRUE : OP.NEWFALSE);
      case 'number':
        return Number.isInteger(v) && Number.isSafeInteger(v) ? int(v, where) : float(v);
      case 'bigint':
        return int(v, where);
      case 'string':
        return str(v);
      case 'object':
        break;
      default:
        throw new ValueError(
          `${where}: a ${typeof v} cannot be pickled (expected null, boolean, number, bigint, string, array, Map, object, tuple or tensor)`,
        );
    }
    const o = v as object;
    if (o instanceof PickleFloat) return float(o.value);
    if (active.has(o)) throw new ValueError(`${where}: the object contains itself (cycles cannot be written)`);
    active.add(o);
    try {
      if (o instanceof PickleTuple) return tupleOf(o.items.map((x, i) => () => emit(x, `${where}[${i}]`, depth + 1)));
      if (o instanceof PickleOrderedDict) {
        global('collections', 'OrderedDict');
        out.byte(OP.EMPTY_TUPLE, OP.REDUCE);
        return dictItems(o.map, where, depth);
      }
      if (Array.isArray(o)) {
        out.byte(OP.EMPTY_LIST);
        for (let i = 0; i < o.length; i += BATCH) {
          out.byte(OP.MARK);
          for (let j = i; j < Math.min(o.length, i + BATCH); j++) emit(o[j] as PickleValue, `${where}[${j}]`, depth + 1);
          out.byte(OP.APPENDS);
        }
        return;
      }
      if (o instanceof Map) {
        out.byte(OP.EMPTY_DICT);
        return dictItems(o.entries(), where, depth);
      }
      if (ArrayBuffer.isView(o))
        throw new ValueError(`${where}: a bare ${o.constructor.name} cannot be pickled; wrap it as a tensor { dtype, shape, data }`);
      if (isRawTensorLike(o)) return tensor(o, where);
      const proto = Object.getPrototypeOf(o);
      if (proto !== Object.prototype && proto !== null) {
        throw new ValueError(
          `${where}: a ${o.constructor?.name ?? 'object'} cannot be pickled (expected a plain object, Map, array, tuple or tensor)`,
        );
      }
      out.byte(OP.EMPTY_DICT);
      return dictItems(Object.entries(o) as [string, PickleValue][], where, depth);
    } finally {
      active.delete(o);
    }
  };

  out.byte(OP.PROTO, 2);
  emit(value, 'value', 0);
  out.byte(OP.STOP);
  return { pickle: out.done(), storages };
}
