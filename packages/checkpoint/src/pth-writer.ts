/**
 * PyTorch `.pth` writer: the zip layout `torch.save` writes (torch ≥ 1.6), which
 * `torch.load` reads (with `weights_only=True` for state dicts of tensors):
 *
 * ```
 * archive/data.pkl     protocol-2 pickle (see pickle-writer.ts)
 * archive/byteorder    "little"
 * archive/data/0 …     one stored (uncompressed) entry per storage, little-endian,
 *                      each starting on a 64-byte boundary (padding in a "FB" extra field, as torch)
 * archive/version      "3\n"
 * ```
 *
 * Entries are stored, with the CRC-32 computed from the tensor's memory before its local
 * header is written, so the file is produced in one pass straight from the typed arrays
 * (no buffer of the whole file); zip64 records are used when an entry or an offset passes 4 GiB.
 */
import { ValueError } from '@var/core/errors';
import { bytesLE, type RawTensor, type StateDict } from './dtypes.js';
import { describe, writeFileAtomic } from './io.js';
import { pickleTorch, pyOrderedDict, type PickleValue, type PickledTorchObject } from './pickle-writer.js';
import { crc32 } from './zip.js';

export interface WritePthOptions {
  /** Folder name inside the archive (torch uses the file's stem or `archive`). Default `'archive'`. */
  prefix?: string;
  /** Write zip64 records for every entry even when the sizes would fit in 32 bits (for testing readers). */
  forceZip64?: boolean;
}

const ALIGN = 64;
const U32_MAX = 0xffffffff;
/** MS-DOS date of 1980-01-01 (torch writes this fixed date too). */
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const utf8 = new TextEncoder();

interface EntryRecord {
  name: Uint8Array;
  crc: number;
  size: number;
  offset: number;
  zip64: boolean;
}

function le16(v: DataView, at: number, x: number) {
  v.setUint16(at, x, true);
}
function le32(v: DataView, at: number, x: number) {
  v.setUint32(at, x >>> 0, true);
}
function le64(v: DataView, at: number, x: number) {
  v.setBigUint64(at, BigInt(x), true);
}

function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(prefix) || prefix === '.' || prefix === '..') {
    throw new ValueError(
      `writePth: prefix must be a plain folder name of letters, digits, "_", "-" or "." (like "archive"), found ${JSON.stringify(prefix)}`,
    );
  }
}

/**
 * The parts of a `.pth` file for an already pickled object, in file order. Lazy: each
 * storage's CRC and local header are made when the iteration reaches it.
 */
export function* pthParts(obj: PickledTorchObject, opts: WritePthOptions = {}): Generator<Uint8Array> {
  const prefix = opts.prefix ?? 'archive';
  checkPrefix(prefix);
  const entries: EntryRecord[] = [];
  let pos = 0;
  const local = (name: string, data: Uint8Array, crc: number): Uint8Array => {
    const nameBytes = utf8.encode(`${prefix}/${name}`);
    const zip64 = !!opts.forceZip64 || data.length >= U32_MAX || pos >= U32_MAX;
    const zip64Len = zip64 ? 20 : 0;
    const base = 30 + nameBytes.length + zip64Len;
    let pad = (ALIGN - ((pos + base + 4) % ALIGN)) % ALIGN;
    const extraLen = zip64Len + 4 + pad;
    const h = new Uint8Array(30 + nameBytes.length + extraLen);
    const v = new DataView(h.buffer);
    le32(v, 0, 0x04034b50);
    le16(v, 4, zip64 ? 45 : 20);
    le16(v, 6, 0); // flags
    le16(v, 8, 0); // stored
    le16(v, 10, 0); // time
    le16(v, 12, DOS_DATE);
    le32(v, 14, crc);
    le32(v, 18, zip64 ? U32_MAX : data.length);
    le32(v, 22, zip64 ? U32_MAX : data.length);
    le16(v, 26, nameBytes.length);
    le16(v, 28, extraLen);
    h.set(nameBytes, 30);
    let at = 30 + nameBytes.length;
    if (zip64) {
      le16(v, at, 0x0001);
      le16(v, at + 2, 16);
      le64(v, at + 4, data.length);
      le64(v, at + 12, data.length);
      at += 20;
    }
    le16(v, at, 0x4246); // "FB": torch's alignment padding field
    le16(v, at + 2, pad);
    h.fill(0x5a, at + 4); // 'Z', as torch pads
    entries.push({ name: nameBytes, crc, size: data.length, offset: pos, zip64 });
    pos += h.length + data.length;
    pad = 0;
    return h;
  };
  const small = (name: string, text: string): Uint8Array[] => {
    const data = utf8.encode(text);
    return [local(name, data, crc32(data)), data];
  };

  yield local('data.pkl', obj.pickle, crc32(obj.pickle));
  yield obj.pickle;
  yield* small('byteorder', 'little');
  for (const s of obj.storages) {
    const data = bytesLE(s.tensor.data, s.tensor.dtype);
    yield local(`data/${s.key}`, data, crc32(data));
    if (data.length > 0) yield data;
  }
  yield* small('version', '3\n');

  // central directory
  const cdStart = pos;
  for (const e of entries) {
    const zip64 = e.zip64 || e.offset >= U32_MAX;
    const extraLen = zip64 ? 28 : 0;
    const h = new Uint8Array(46 + e.name.length + extraLen);
    const v = new DataView(h.buffer);
    le32(v, 0, 0x02014b50);
    le16(v, 4, zip64 ? 45 : 20); // made by
    le16(v, 6, zip64 ? 45 : 20); // needed
    le16(v, 8, 0);
    le16(v, 10, 0);
    le16(v, 12, 0);
    le16(v, 14, DOS_DATE);
    le32(v, 16, e.crc);
    le32(v, 20, zip64 ? U32_MAX : e.size);
    le32(v, 24, zip64 ? U32_MAX : e.size);
    le16(v, 28, e.name.length);
    le16(v, 30, extraLen);
    le16(v, 32, 0); // comment
    le16(v, 34, 0); // disk
    le16(v, 36, 0); // internal attributes
    le32(v, 38, 0); // external attributes
    le32(v, 42, zip64 ? U32_MAX : e.offset);
    h.set(e.name, 46);
    if (zip64) {
      const at = 46 + e.name.length;
      le16(v, at, 0x0001);
      le16(v, at + 2, 24);
      le64(v, at + 4, e.size);
      le64(v, at + 12, e.size);
      le64(v, at + 20, e.offset);
    }
    pos += h.length;
    yield h;
  }
  const cdSize = pos - cdStart;
  const n = entries.length;
  const zip64End = !!opts.forceZip64 || n >= 0xffff || cdStart >= U32_MAX || cdSize >= U32_MAX;
  if (zip64End) {
    const r = new Uint8Array(56 + 20);
    const v = new DataView(r.buffer);
    le32(v, 0, 0x06064b50);
    le64(v, 4, 44);
    le16(v, 12, 45);
    le16(v, 14, 45);
    le32(v, 16, 0);
    le32(v, 20, 0);
    le64(v, 24, n);
    le64(v, 32, n);
    le64(v, 40, cdSize);
    le64(v, 48, cdStart);
    le32(v, 56, 0x07064b50); // locator
    le32(v, 60, 0);
    le64(v, 64, pos);
    le32(v, 72, 1);
    pos += r.length;
    yield r;
  }
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  le32(v, 0, 0x06054b50);
  le16(v, 4, 0);
  le16(v, 6, 0);
  le16(v, 8, zip64End ? 0xffff : n);
  le16(v, 10, zip64End ? 0xffff : n);
  le32(v, 12, zip64End ? U32_MAX : cdSize);
  le32(v, 16, zip64End ? U32_MAX : cdStart);
  le16(v, 20, 0);
  yield end;
}

/** A state dict as the `OrderedDict` that `module.state_dict()` returns. */
function asPickleValue(obj: PickleValue | StateDict): PickleValue {
  if (obj instanceof Map && [...obj.values()].every((t) => t !== null && typeof t === 'object' && 'dtype' in (t as object))) {
    return pyOrderedDict(obj as Map<string, RawTensor>);
  }
  return obj as PickleValue;
}

/**
 * The bytes of a `.pth` file holding `obj` (in memory; see {@link writePth} to stream to a file).
 * A `StateDict` (Map of tensors) is written as an `OrderedDict`, like `torch.save(model.state_dict())`.
 */
export function serializePth(obj: PickleValue | StateDict, opts: WritePthOptions = {}): Uint8Array {
  const parts = [...pthParts(pickleTorch(asPickleValue(obj)), opts)];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Write `obj` as a PyTorch checkpoint that `torch.load` reads (Node). A `StateDict`
 * becomes an `OrderedDict` of tensors (what `torch.save(model.state_dict(), path)` writes);
 * any other value (nested dicts, lists, tuples, numbers, strings, tensors) is written as
 * given — e.g. a trainer checkpoint `{ epoch, trainer: {…}, args: {…} }`.
 *
 * The object is checked and pickled first (a bad value throws before anything touches
 * the disk); the tensor bytes are then streamed from their typed arrays into a temporary
 * file that is renamed over `path` once complete (atomic; nothing left on failure).
 * @throws ValueError / ShapeError for values that cannot be written (see {@link pickleTorch})
 * @throws CheckpointError when the file cannot be written
 */
export async function writePth(path: string, obj: PickleValue | StateDict, opts: WritePthOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new ValueError(`writePth: expected a file path, found ${describe(path)}`);
  if (opts.prefix !== undefined) checkPrefix(opts.prefix);
  const pickled = pickleTorch(asPickleValue(obj));
  await writeFileAtomic(path, pthParts(pickled, opts));
}
