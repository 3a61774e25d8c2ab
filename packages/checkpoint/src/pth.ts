/**
 * PyTorch `.pth` / `.pt` reader (the zip format `torch.save` writes since 1.6),
 * without executing pickle code.
 *
 * Archive layout: `<prefix>/data.pkl` (the pickled object), `<prefix>/data/<key>`
 * (one stored entry per storage, raw little-endian bytes unless
 * `<prefix>/byteorder` says "big"), `<prefix>/version`. Tensors are pickled as
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` where
 * `storage` is a persistent id `('storage', torch.FloatStorage, key, location, numel)`.
 */
import { CheckpointError, ValueError } from '@var/core/errors';
import {
  DTYPE_SIZE,
  HOST_LITTLE_ENDIAN,
  allocTyped,
  fmtShape,
  shapeNumel,
  swapBytesInPlace,
  typedFromLE,
  type DType,
  type RawTensor,
  type StateDict,
  type TensorData,
} from './dtypes.js';
import { describe, openSource, type ByteSource, type CheckpointSource } from './io.js';
import { PyBytes, PyDict, PyGlobal, PyOpaque, PySet, PyTuple, pyTypeName, unpickle, type PyValue } from './pickle.js';
import { ZipArchive, looksLikeZip, type ZipEntry } from './zip.js';

export interface ReadPthOptions {
  /**
   * Which object of the checkpoint is the state dict: a top-level key (`'model'`,
   * `'state_dict'` …) or a path of keys (`['trainer', 'var_wo_ddp']`). Without it the
   * top-level object is used when it is a dict of tensors; otherwise the single dict
   * of tensors nested in it (an error lists the candidates when there are several).
   */
  key?: string | string[];
  /**
   * Give every tensor its own memory. Default `false`: a contiguous tensor may be a
   * view of its storage (tensors that share a storage in the file then share memory,
   * as in PyTorch) and, for in-memory input, of the input bytes.
   */
  copy?: boolean;
  /** Check the CRC-32 of every zip entry read (default true). */
  verifyCrc?: boolean;
  /**
   * Limit on the bytes of one tensor materialised from a view that is larger than its
   * storage (stride-0 broadcast views). Default 128 MiB.
   */
  maxExpandedBytes?: number;
  /** Limit on the size of `data.pkl` (default 256 MiB). */
  maxPickleBytes?: number;
}

const STORAGE_DTYPES: Record<string, DType | 'untyped'> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'untyped',
  TypedStorage: 'untyped',
};

const UNSUPPORTED_STORAGES = new Set([
  'ComplexFloatStorage',
  'ComplexDoubleStorage',
  'QInt8Storage',
  'QUInt8Storage',
  'QInt32Storage',
  'QUInt4x2Storage',
  'QUInt2x4Storage',
]);

const TORCH_DTYPES: Record<string, DType | null> = {
  float32: 'F32',
  float: 'F32',
  float64: 'F64',
  double: 'F64',
  float16: 'F16',
  half: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  short: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
  // dtype objects that may appear (e.g. in optimizer state) but cannot be tensors here
  complex32: null,
  chalf: null,
  complex64: null,
  cfloat: null,
  complex128: null,
  cdouble: null,
  uint16: null,
  uint32: null,
  uint64: null,
  float8_e4m3fn: null,
  float8_e5m2: null,
  float8_e4m3fnuz: null,
  float8_e5m2fnuz: null,
  qint8: null,
  quint8: null,
  qint32: null,
  quint4x2: null,
};

/** A `torch.<dtype>` object. */
export class TorchDType extends PyOpaque {
  constructor(
    readonly name: string,
    readonly dtype: DType | null,
  ) {
    super();
  }
  describe() {
    return `torch.${this.name}`;
  }
}

/** A `torch.device`. */
export class TorchDevice extends PyOpaque {
  constructor(readonly device: string) {
    super();
  }
  describe() {
    return `torch.device('${this.device}')`;
  }
}

/** A storage named by a persistent id; its bytes are read after unpickling. */
export class StorageRef extends PyOpaque {
  constructor(
    readonly key: string,
    /** Element type of a typed storage; 'untyped' for UntypedStorage (bytes). */
    readonly dtype: DType | 'untyped',
    readonly nbytes: number,
    readonly location: string,
    readonly entry: ZipEntry,
  ) {
    super();
  }
  describe() {
    return `storage "${this.key}" (${this.dtype}, ${this.nbytes} bytes, ${this.location})`;
  }
}

/** A tensor view waiting for its storage bytes. */
export class PendingTensor extends PyOpaque {
  constructor(
    readonly storage: StorageRef,
    readonly dtype: DType,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly numel: number,
  ) {
    super();
  }
  describe() {
    return `tensor ${this.dtype}${fmtShape(this.shape)}`;
  }
  // Parameters / tensor subclasses may carry python attributes; they are not kept.
  override setState(): void {}
}

function isInt(v: PyValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

function intList(v: PyValue, what: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items) throw new CheckpointError(`${what} must be a tuple of ints, found ${pyTypeName(v)}`);
  if (items.length > 64) throw new CheckpointError(`${what} has ${items.length} dimensions (more than 64)`);
  return items.map((x, i) => {
    if (!isInt(x) || x < 0) throw new CheckpointError(`${what}[${i}] must be a non-negative int, found ${pyTypeName(x)} ${String(x)}`);
    return x;
  });
}

interface TorchContext {
  label: string;
  archive: ZipArchive;
  prefix: string;
  storages: Map<string, StorageRef>;
}

/** Build a tensor view, checking it lies inside its storage (nothing is allocated here). */
function rebuildTensor(
  ctx: TorchContext,
  fn: string,
  storage: PyValue,
  offsetV: PyValue,
  sizeV: PyValue,
  strideV: PyValue,
  dtypeV?: PyValue,
): PendingTensor {
  if (!(storage instanceof StorageRef)) throw new CheckpointError(`${ctx.label}: ${fn}: expected a storage, found ${pyTypeName(storage)}`);
  let dtype: DType;
  if (dtypeV !== undefined) {
    if (!(dtypeV instanceof TorchDType))
      throw new CheckpointError(`${ctx.label}: ${fn}: expected a torch dtype, found ${pyTypeName(dtypeV)}`);
    if (!dtypeV.dtype)
      throw new CheckpointError(
        `${ctx.label}: tensor dtype torch.${dtypeV.name} is not supported (supported: float64/32/16, bfloat16, int64/32/16/8, uint8, bool)`,
      );
    dtype = dtypeV.dtype;
    if (storage.dtype !== 'untyped' && storage.dtype !== dtype) {
      throw new CheckpointError(`${ctx.label}: tensor of dtype ${dtype} views ${storage.describe()} of another dtype`);
    }
  } else {
    if (storage.dtype === 'untyped') throw new CheckpointError(`${ctx.label}: ${fn} on an untyped storage needs a dtype`);
    dtype = storage.dtype;
  }
  if (!isInt(offsetV) || offsetV < 0)
    throw new CheckpointError(
      `${ctx.label}: ${fn}: storage offset must be a non-negative int, found ${pyTypeName(offsetV)} ${String(offsetV)}`,
    );
  const shape = intList(sizeV, `${ctx.label}: tensor size`);
  const stride = intList(strideV, `${ctx.label}: tensor stride`);
  if (stride.length !== shape.length) {
    throw new CheckpointError(`${ctx.label}: tensor size ${fmtShape(shape)} and stride ${fmtShape(stride)} have different lengths`);
  }
  const numel = shapeNumel(shape, `${ctx.label}: tensor`);
  const es = DTYPE_SIZE[dtype];
  if (storage.nbytes % es !== 0)
    throw new CheckpointError(`${ctx.label}: ${storage.describe()} is not a whole number of ${dtype} elements`);
  const storageElems = storage.nbytes / es;
  const offset = offsetV as number;
  if (numel > 0) {
    let last = offset;
    for (let d = 0; d < shape.length; d++) {
      last += (shape[d] - 1) * stride[d];
      if (!Number.isSafeInteger(last))
        throw new CheckpointError(`${ctx.label}: tensor ${fmtShape(shape)} with stride ${fmtShape(stride)} overflows`);
    }
    if (last >= storageElems) {
      throw new CheckpointError(
        `${ctx.label}: tensor ${dtype}${fmtShape(shape)} (offset ${offset}, stride ${fmtShape(stride)}) reaches element ${last} of ${storage.describe()} which has ${storageElems} elements`,
      );
    }
  } else if (offset > storageElems) {
    throw new CheckpointError(`${ctx.label}: tensor offset ${offset} lies past the end of ${storage.describe()}`);
  }
  return new PendingTensor(storage, dtype, offset, shape, stride, numel);
}

function tensorArgs(ctx: TorchContext, name: string, args: PyValue[], min: number, max: number): void {
  if (args.length < min || args.length > max) {
    throw new CheckpointError(
      `${ctx.label}: ${name} called with ${args.length} arguments, expected ${min === max ? min : `${min}–${max}`}`,
    );
  }
}

function makeResolver(ctx: TorchContext): (module: string, name: string) => PyValue {
  const G = (module: string, name: string, call?: (args: PyValue[], kwargs?: PyDict) => PyValue) => new PyGlobal(module, name, call);
  const table = new Map<string, PyGlobal>();
  const add = (g: PyGlobal) => table.set(g.qualname, g);

  add(
    G('collections', 'OrderedDict', (args) => {
      const d = new PyDict(true);
      if (args.length > 1) throw new CheckpointError(`${ctx.label}: OrderedDict called with ${args.length} arguments`);
      if (args.length === 1 && args[0] !== null) {
        const src = args[0];
        const pairs = Array.isArray(src) ? src : src instanceof PyTuple ? src.items : src instanceof PyDict ? null : undefined;
        if (pairs === undefined) throw new CheckpointError(`${ctx.label}: OrderedDict(${pyTypeName(src)}) is not supported`);
        if (pairs === null) for (const [k, v] of (src as PyDict).map) d.map.set(k, v);
        else
          for (const p of pairs) {
            if (!(p instanceof PyTuple) || p.items.length !== 2)
              throw new CheckpointError(`${ctx.label}: OrderedDict item must be a (key, value) pair, found ${pyTypeName(p)}`);
            d.map.set(p.items[0], p.items[1]);
          }
      }
      return d;
    }),
  );
  for (const [name, frozen] of [
    ['set', false],
    ['frozenset', true],
  ] as const) {
    add(
      G('builtins', name, (args) => {
        const s = new PySet(frozen);
        if (args.length > 1) throw new CheckpointError(`${ctx.label}: ${name}() called with ${args.length} arguments`);
        if (args.length === 1) {
          const it = args[0];
          const items = Array.isArray(it) ? it : it instanceof PyTuple ? it.items : it instanceof PySet ? [...it.items] : null;
          if (!items) throw new CheckpointError(`${ctx.label}: ${name}(${pyTypeName(it)}) is not supported`);
          for (const x of items) s.items.add(x);
        }
        return s;
      }),
    );
  }
  const encodeBytes = (args: PyValue[]): PyValue => {
    // How protocol 2 pickles python-3 bytes: _codecs.encode(str, 'latin1').
    const [s, enc] = args;
    if (args.length !== 2 || typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) {
      throw new CheckpointError(`${ctx.label}: bytes construction with (${args.map(pyTypeName).join(', ')}) is not supported`);
    }
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 255) throw new CheckpointError(`${ctx.label}: latin-1 encoding of a non-latin-1 string`);
      out[i] = c;
    }
    return new PyBytes(out);
  };
  add(G('_codecs', 'encode', encodeBytes));
  add(
    G('builtins', 'bytearray', (args) => {
      if (args.length === 0) return new PyBytes(new Uint8Array(0));
      if (args.length === 1 && args[0] instanceof PyBytes) return new PyBytes(args[0].bytes.slice());
      return encodeBytes(args);
    }),
  );
  add(
    G('torch', 'Size', (args) => {
      if (args.length > 1) throw new CheckpointError(`${ctx.label}: torch.Size called with ${args.length} arguments`);
      return new PyTuple(intList(args[0] ?? new PyTuple([]), `${ctx.label}: torch.Size`));
    }),
  );
  add(
    G('torch', 'device', (args) => {
      const [t, i] = args;
      if (typeof t !== 'string' || args.length > 2 || (args.length === 2 && i !== null && !isInt(i))) {
        throw new CheckpointError(`${ctx.label}: torch.device(${args.map(pyTypeName).join(', ')}) is not supported`);
      }
      return new TorchDevice(args.length === 2 && i !== null ? `${t}:${i}` : t);
    }),
  );
  const dtypeObjects = new Map<string, TorchDType>();
  for (const [name, dt] of Object.entries(TORCH_DTYPES)) dtypeObjects.set(`torch.${name}`, new TorchDType(name, dt));

  const utils = 'torch._utils';
  add(
    G(utils, '_rebuild_tensor', (a) => {
      tensorArgs(ctx, '_rebuild_tensor', a, 4, 4);
      return rebuildTensor(ctx, '_rebuild_tensor', a[0], a[1], a[2], a[3]);
    }),
  );
  add(
    G(utils, '_rebuild_tensor_v2', (a) => {
      tensorArgs(ctx, '_rebuild_tensor_v2', a, 6, 7);
      return rebuildTensor(ctx, '_rebuild_tensor_v2', a[0], a[1], a[2], a[3]);
    }),
  );
  add(
    G(utils, '_rebuild_tensor_v3', (a) => {
      tensorArgs(ctx, '_rebuild_tensor_v3', a, 7, 8);
      return rebuildTensor(ctx, '_rebuild_tensor_v3', a[0], a[1], a[2], a[3], a[6]);
    }),
  );
  const param = (name: string, min: number, max: number) =>
    G(utils, name, (a) => {
      tensorArgs(ctx, name, a, min, max);
      if (!(a[0] instanceof PendingTensor))
        throw new CheckpointError(`${ctx.label}: ${name}: expected a tensor, found ${pyTypeName(a[0])}`);
      return a[0];
    });
  add(param('_rebuild_parameter', 3, 3));
  add(param('_rebuild_parameter_with_state', 4, 4));
  add(G('torch', 'Tensor'));
  add(G('torch.nn.parameter', 'Parameter'));
  add(
    G('torch._tensor', '_rebuild_from_type_v2', (a) => {
      tensorArgs(ctx, '_rebuild_from_type_v2', a, 4, 4);
      const [fn, type, args] = a;
      if (!(type instanceof PyGlobal) || (type.qualname !== 'torch.Tensor' && type.qualname !== 'torch.nn.parameter.Parameter')) {
        throw new CheckpointError(`${ctx.label}: tensor subclass ${pyTypeName(type)} is not supported`);
      }
      if (!(fn instanceof PyGlobal) || !fn.call || !(args instanceof PyTuple)) {
        throw new CheckpointError(`${ctx.label}: _rebuild_from_type_v2 with (${pyTypeName(fn)}, …, ${pyTypeName(args)}) is not supported`);
      }
      return fn.call(args.items);
    }),
  );
  const storageModules = ['torch', 'torch.cuda', 'torch.storage'];
  for (const m of storageModules) for (const name of Object.keys(STORAGE_DTYPES)) add(G(m, name));

  return (module: string, name: string): PyValue => {
    const q = `${module}.${name}`;
    // dtype objects are plain values in the pickle (GLOBAL 'torch float32'), not callables
    const dt = dtypeObjects.get(q);
    if (dt) return dt;
    const g = table.get(q);
    if (g) return g;
    if ((module === 'torch' || module === 'torch.cuda') && UNSUPPORTED_STORAGES.has(name)) {
      throw new CheckpointError(`${ctx.label}: tensor storage type ${q} is not supported (complex and quantized tensors cannot be read)`);
    }
    throw new CheckpointError(
      `${ctx.label}: the pickle references the global ${q}, which is not on the allow-list of a weights-only checkpoint; ` +
        `refusing to load it (it could run code). Only tensors, storages, dtypes, OrderedDict and plain Python values are accepted.`,
    );
  };
}

function persistentLoader(ctx: TorchContext) {
  return (pid: PyValue): PyValue => {
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
      throw new CheckpointError(
        `${ctx.label}: unsupported persistent id ${pyTypeName(pid)} (expected ('storage', type, key, location, numel))`,
      );
    }
    const [, type, key, location, numel] = pid.items;
    if (!(type instanceof PyGlobal) || !Object.hasOwn(STORAGE_DTYPES, type.name)) {
      throw new CheckpointError(`${ctx.label}: persistent id names ${pyTypeName(type)} where a storage type was expected`);
    }
    if (typeof key !== 'string' || key.length === 0 || key.length > 1024)
      throw new CheckpointError(`${ctx.label}: storage key must be a non-empty str, found ${pyTypeName(key)}`);
    if (typeof location !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*(:\d{1,6})?$/.test(location)) {
      throw new CheckpointError(`${ctx.label}: storage "${key}" has an invalid location ${JSON.stringify(String(location)).slice(0, 60)}`);
    }
    if (!isInt(numel) || numel < 0) throw new CheckpointError(`${ctx.label}: storage "${key}" has an invalid size ${String(numel)}`);
    const dtype = STORAGE_DTYPES[type.name];
    const es = dtype === 'untyped' ? 1 : DTYPE_SIZE[dtype];
    const nbytes = numel * es;
    if (!Number.isSafeInteger(nbytes)) throw new CheckpointError(`${ctx.label}: storage "${key}" size ${numel} is too large`);
    const prev = ctx.storages.get(key);
    if (prev) {
      if (prev.dtype !== dtype || prev.nbytes !== nbytes) {
        throw new CheckpointError(
          `${ctx.label}: storage "${key}" is referenced as ${dtype} with ${nbytes} bytes and as ${prev.dtype} with ${prev.nbytes} bytes`,
        );
      }
      return prev;
    }
    const name = `${ctx.prefix}data/${key}`;
    const entry = ctx.archive.entries.get(name);
    if (!entry) throw new CheckpointError(`${ctx.label}: storage "${key}" is missing from the archive (no entry ${name})`);
    if (entry.size !== nbytes) {
      throw new CheckpointError(
        `${ctx.label}: storage "${key}" should hold ${numel} ${dtype} elements (${nbytes} bytes) but ${name} has ${entry.size} bytes`,
      );
    }
    const ref = new StorageRef(key, dtype, nbytes, location, entry);
    ctx.storages.set(key, ref);
    return ref;
  };
}

/** The archive prefix (`archive/`, `vae/`, …) holding data.pkl. */
function findPrefix(archive: ZipArchive): string {
  const names = [...archive.entries.keys()];
  const candidates = names.filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl')).map((n) => n.slice(0, n.length - 'data.pkl'.length));
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) {
    throw new CheckpointError(
      `${archive.label}: zip archive has no data.pkl, so it is not a PyTorch checkpoint (entries: ${names.slice(0, 5).join(', ')}${names.length > 5 ? ', …' : ''})`,
    );
  }
  // Like torch: the archive's top-level directory is the one of its first entry.
  const first = names[0].split('/')[0] + '/';
  if (candidates.includes(first)) return first;
  throw new CheckpointError(`${archive.label}: zip archive has several data.pkl (${candidates.map((c) => c + 'data.pkl').join(', ')})`);
}

/** A checkpoint opened and unpickled, with tensors not yet materialised. */
export interface PthArchive {
  label: string;
  prefix: string;
  bigEndian: boolean;
  root: PyValue;
  archive: ZipArchive;
}

/** Python's own recursion limit keeps real pickles far below this. */
const MAX_NESTING = 1000;

const LEGACY_MAGIC = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/** Open a zip checkpoint and run its pickle. */
export async function openPth(src: ByteSource, opts: ReadPthOptions = {}): Promise<PthArchive> {
  const head = await src.read(0, Math.min(16, src.size));
  if (!looksLikeZip(head)) {
    if (LEGACY_MAGIC.every((b, i) => head[i] === b)) {
      throw new CheckpointError(
        `${src.label}: this is a legacy (pre-1.6, non-zip) torch.save file, which is not supported; re-save it with torch >= 1.6 (torch.save(torch.load(f), f2)) or convert it to safetensors`,
      );
    }
    throw new CheckpointError(`${src.label}: not a PyTorch zip checkpoint (no zip signature "PK" at the start)`);
  }
  const archive = await ZipArchive.open(src);
  const prefix = findPrefix(archive);
  const label = src.label;
  let bigEndian = false;
  const bo = archive.entries.get(`${prefix}byteorder`);
  if (bo) {
    const text = new TextDecoder('latin1').decode(await archive.read(bo, { verifyCrc: opts.verifyCrc, maxBytes: 64 })).trim();
    if (text === 'big') bigEndian = true;
    else if (text !== 'little')
      throw new CheckpointError(`${label}: ${prefix}byteorder says ${JSON.stringify(text.slice(0, 20))}, expected "little" or "big"`);
  }
  const pklEntry = archive.entries.get(`${prefix}data.pkl`)!;
  const pkl = await archive.read(pklEntry, { verifyCrc: opts.verifyCrc, maxBytes: opts.maxPickleBytes ?? 256 * 2 ** 20 });
  const ctx: TorchContext = { label: `${label}: ${prefix}data.pkl`, archive, prefix, storages: new Map() };
  const root = unpickle(pkl, { resolveGlobal: makeResolver(ctx), persistentLoad: persistentLoader(ctx), label: ctx.label });
  return { label, prefix, bigEndian, root, archive };
}

/** Whether `v` is a non-empty dict whose keys are all strings and values all tensors. */
function isTensorDict(v: PyValue): v is PyDict {
  if (!(v instanceof PyDict) || v.map.size === 0) return false;
  for (const [k, x] of v.map) if (typeof k !== 'string' || !(x instanceof PendingTensor)) return false;
  return true;
}

function keyList(d: PyDict): string {
  const ks = [...d.map.keys()].slice(0, 12).map((k) => (typeof k === 'string' ? JSON.stringify(k) : pyTypeName(k)));
  return ks.join(', ') + (d.map.size > 12 ? ', …' : '');
}

function child(v: PyValue, k: string): PyValue | undefined {
  if (v instanceof PyDict) return v.map.has(k) ? v.map.get(k) : undefined;
  const items = Array.isArray(v) ? v : v instanceof PyTuple ? v.items : null;
  if (items && /^\d+$/.test(k) && Number(k) < items.length) return items[Number(k)];
  return undefined;
}

/** Pick the state dict out of a checkpoint's root object. */
export function selectStateDict(root: PyValue, label: string, key?: string | string[]): PyDict {
  if (key !== undefined) {
    const path = typeof key === 'string' ? [key] : key;
    if (!Array.isArray(path) || path.some((p) => typeof p !== 'string'))
      throw new ValueError(`option key must be a string or an array of strings, found ${describe(key)}`);
    let v: PyValue = root;
    for (let i = 0; i < path.length; i++) {
      const next = child(v, path[i]);
      if (next === undefined) {
        const where = i === 0 ? 'the checkpoint' : `"${path.slice(0, i).join('.')}"`;
        const avail = v instanceof PyDict ? ` (keys: ${keyList(v)})` : ` (it is a ${pyTypeName(v)})`;
        throw new CheckpointError(`${label}: ${where} has no key "${path[i]}"${avail}`);
      }
      v = next;
    }
    if (!isTensorDict(v)) throw notTensorDict(v, label, path.join('.'));
    return v;
  }
  if (isTensorDict(root)) return root;
  // Search nested containers for dicts of tensors (cycle-safe, bounded depth).
  const found: { path: string[]; depth: number; d: PyDict }[] = [];
  const seen = new Set<PyValue>();
  const queue: { v: PyValue; path: string[] }[] = [{ v: root, path: [] }];
  for (let qi = 0; qi < queue.length && found.length < 50; qi++) {
    const { v, path } = queue[qi];
    if (v === null || typeof v !== 'object' || seen.has(v) || path.length > 8) continue;
    seen.add(v);
    if (path.length > 0 && isTensorDict(v)) {
      found.push({ path, depth: path.length, d: v });
      continue;
    }
    if (v instanceof PyDict) {
      for (const [k, x] of v.map) if (typeof k === 'string' || typeof k === 'number') queue.push({ v: x, path: [...path, String(k)] });
    } else if (Array.isArray(v) || v instanceof PyTuple) {
      const items = Array.isArray(v) ? v : v.items;
      items.forEach((x, i) => queue.push({ v: x, path: [...path, String(i)] }));
    }
  }
  // Prefer the shallowest: a trainer checkpoint's model (depth 1) over the per-parameter
  // optimizer states (`optimizer.state.0` = {exp_avg: tensor, …}) deeper down.
  const minDepth = Math.min(...found.map((f) => f.depth));
  const shallow = found.filter((f) => f.depth === minDepth);
  if (shallow.length === 1) return shallow[0].d;
  if (found.length > 1) {
    throw new CheckpointError(
      `${label}: the checkpoint holds several dicts of tensors (${shallow.map((f) => JSON.stringify(f.path.join('.'))).join(', ')}); pass the option key to pick one, e.g. { key: ${JSON.stringify(shallow[0].path)} }`,
    );
  }
  throw notTensorDict(root, label, '');
}

function notTensorDict(v: PyValue, label: string, where: string): CheckpointError {
  const what = where ? `"${where}"` : 'the checkpoint';
  if (v instanceof PyDict) {
    if (v.map.size === 0) return new CheckpointError(`${label}: ${what} is an empty dict, not a state dict`);
    for (const [k, x] of v.map) {
      if (typeof k !== 'string') return new CheckpointError(`${label}: ${what} has a ${pyTypeName(k)} key; a state dict has str keys`);
      if (!(x instanceof PendingTensor)) {
        return new CheckpointError(
          `${label}: ${what} is not a dict of tensors: "${k}" is a ${pyTypeName(x)} (keys: ${keyList(v)}); pass the option key to pick the state dict`,
        );
      }
    }
  }
  return new CheckpointError(`${label}: ${what} is a ${pyTypeName(v)}, not a dict of tensors`);
}

/** Reads storages once and turns pending tensors into RawTensors. */
class Materializer {
  private readonly storageBytes = new Map<StorageRef, Uint8Array>();
  private readonly storageTyped = new Map<StorageRef, Map<DType, TensorData>>();
  constructor(
    private readonly pth: PthArchive,
    private readonly opts: ReadPthOptions,
  ) {}

  async load(tensors: Iterable<PendingTensor>): Promise<void> {
    for (const t of tensors) {
      if (this.storageBytes.has(t.storage)) continue;
      this.storageBytes.set(t.storage, await this.pth.archive.read(t.storage.entry, { verifyCrc: this.opts.verifyCrc }));
    }
  }

  /** The whole storage as a host-order typed array of `dtype`. */
  private typed(s: StorageRef, dtype: DType): TensorData {
    let byType = this.storageTyped.get(s);
    if (!byType) this.storageTyped.set(s, (byType = new Map()));
    let arr = byType.get(dtype);
    if (!arr) {
      const bytes = this.storageBytes.get(s)!;
      if (this.pth.bigEndian) {
        arr = allocTyped(dtype, bytes.length / DTYPE_SIZE[dtype]);
        const out = new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
        out.set(bytes);
        if (HOST_LITTLE_ENDIAN) swapBytesInPlace(out, DTYPE_SIZE[dtype]);
      } else {
        // A view unless misaligned; the caller's input bytes are never modified.
        arr = typedFromLE(dtype, bytes, false);
      }
      byType.set(dtype, arr);
    }
    return arr;
  }

  tensor(t: PendingTensor, name: string): RawTensor {
    const es = DTYPE_SIZE[t.dtype];
    const bytes = t.numel * es;
    const limit = this.opts.maxExpandedBytes ?? 128 * 2 ** 20;
    if (bytes > t.storage.nbytes && bytes > limit) {
      throw new CheckpointError(
        `${this.pth.label}: tensor "${name}" ${t.dtype}${fmtShape(t.shape)} would expand ${t.storage.nbytes} storage bytes to ${bytes} (limit ${limit}, option maxExpandedBytes)`,
      );
    }
    const st = this.typed(t.storage, t.dtype);
    let contiguous = true;
    let expect = 1;
    for (let d = t.shape.length - 1; d >= 0; d--) {
      if (t.shape[d] !== 1 && t.stride[d] !== expect) contiguous = false;
      expect *= t.shape[d];
    }
    let data: TensorData;
    if (contiguous || t.numel === 0) {
      data = this.opts.copy ? st.slice(t.offset, t.offset + t.numel) : st.subarray(t.offset, t.offset + t.numel);
    } else {
      data = gather(st, t);
    }
    return { dtype: t.dtype, shape: t.shape.slice(), data };
  }
}

/**
 * One tensor of an opened checkpoint as its own RawTensor (its storage read and CRC-checked,
 * the tensor's elements copied out): the general path of @var/checkpoint's `openStateDict`.
 */
export async function tensorFromArchive(pth: PthArchive, t: PendingTensor, name: string, opts: ReadPthOptions = {}): Promise<RawTensor> {
  const m = new Materializer(pth, { ...opts, copy: true });
  await m.load([t]);
  return m.tensor(t, name);
}

/** Copy a strided view into a new contiguous array. */
function gather(st: TensorData, t: PendingTensor): TensorData {
  const out = allocTyped(t.dtype, t.numel) as unknown as { [i: number]: number | bigint; length: number };
  const src = st as unknown as { [i: number]: number | bigint };
  const nd = t.shape.length;
  const idx = new Array<number>(nd).fill(0);
  const inner = nd - 1;
  const innerSize = t.shape[inner];
  const innerStride = t.stride[inner];
  let base = t.offset;
  let o = 0;
  while (o < t.numel) {
    for (let i = 0, p = base; i < innerSize; i++, p += innerStride) out[o++] = src[p];
    // advance the outer multi-index
    let d = inner - 1;
    for (; d >= 0; d--) {
      idx[d]++;
      base += t.stride[d];
      if (idx[d] < t.shape[d]) break;
      base -= t.stride[d] * t.shape[d];
      idx[d] = 0;
    }
    if (d < 0) break;
  }
  return out as unknown as TensorData;
}

async function withSource<T>(src: CheckpointSource, fn: (s: ByteSource) => Promise<T>): Promise<T> {
  const source = await openSource(src);
  try {
    return await fn(source);
  } finally {
    await source.close();
  }
}

/**
 * Read the state dict of a PyTorch checkpoint (zip format) without executing any
 * pickle code. Throws {@link CheckpointError} for malformed or hostile files.
 */
export async function readPth(src: CheckpointSource, opts: ReadPthOptions = {}): Promise<StateDict> {
  return withSource(src, (source) => readPthSource(source, opts));
}

/** {@link readPth} on an open source. */
export async function readPthSource(source: ByteSource, opts: ReadPthOptions = {}): Promise<StateDict> {
  const pth = await openPth(source, opts);
  const sd = selectStateDict(pth.root, pth.label, opts.key);
  const m = new Materializer(pth, opts);
  // only the storages the chosen state dict uses are read
  await m.load(sd.map.values() as Iterable<PendingTensor>);
  const out: StateDict = new Map();
  for (const [k, t] of sd.map) out.set(k as string, m.tensor(t as PendingTensor, k as string));
  return out;
}

/**
 * The whole object a checkpoint holds, as plain JavaScript: dicts become `Map`s,
 * lists and tuples arrays, tensors {@link RawTensor}s, bytes `Uint8Array`s, ints
 * beyond 2^53 `bigint`s, dtypes and devices strings (`'torch.float32'`, `'cuda:0'`).
 * Useful for trainer checkpoints (`{model, optimizer, epoch, …}`).
 */
export async function readPthObject(src: CheckpointSource, opts: Omit<ReadPthOptions, 'key'> = {}): Promise<unknown> {
  return withSource(src, async (source) => {
    const pth = await openPth(source, opts);
    const m = new Materializer(pth, opts);
    // collect tensors first (cycle-safe), load their storages, then convert
    const tensors: PendingTensor[] = [];
    const seen = new Set<object>();
    const stack: PyValue[] = [pth.root];
    while (stack.length) {
      const v = stack.pop()!;
      if (v === null || typeof v !== 'object' || seen.has(v)) continue;
      seen.add(v);
      if (v instanceof PendingTensor) tensors.push(v);
      else if (v instanceof PyDict) for (const [k, x] of v.map) stack.push(k, x);
      else if (Array.isArray(v)) for (const x of v) stack.push(x);
      else if (v instanceof PyTuple) for (const x of v.items) stack.push(x);
      else if (v instanceof PySet) for (const x of v.items) stack.push(x);
    }
    await m.load(tensors);
    const memo = new Map<object, unknown>();
    let n = 0;
    const conv = (v: PyValue, depth = 0): unknown => {
      if (v === null || typeof v !== 'object') return v;
      if (depth > MAX_NESTING) throw new CheckpointError(`${pth.label}: the pickled object is nested more than ${MAX_NESTING} levels deep`);
      const hit = memo.get(v);
      if (hit !== undefined) return hit;
      if (v instanceof PendingTensor) {
        const t = m.tensor(v, `#${n++}`);
        memo.set(v, t);
        return t;
      }
      if (v instanceof PyDict) {
        const out = new Map<unknown, unknown>();
        memo.set(v, out);
        for (const [k, x] of v.map) out.set(conv(k, depth + 1), conv(x, depth + 1));
        return out;
      }
      if (Array.isArray(v) || v instanceof PyTuple) {
        const out: unknown[] = [];
        memo.set(v, out);
        for (const x of Array.isArray(v) ? v : v.items) out.push(conv(x, depth + 1));
        return out;
      }
      if (v instanceof PySet) {
        const out = new Set<unknown>();
        memo.set(v, out);
        for (const x of v.items) out.add(conv(x, depth + 1));
        return out;
      }
      if (v instanceof PyBytes) return v.bytes;
      if (v instanceof TorchDType) return `torch.${v.name}`;
      if (v instanceof TorchDevice) return v.device;
      if (v instanceof PyGlobal) return v.qualname;
      if (v instanceof PyOpaque) return v.describe();
      return undefined;
    };
    return conv(pth.root);
  });
}
