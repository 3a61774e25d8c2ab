/**
 * A small, defensive reader for the zip container of PyTorch checkpoints.
 *
 * PyTorch (`torch.save`, zip format since 1.6) writes *stored* (uncompressed)
 * entries, padded so each storage starts on a 64-byte boundary, with zip64 records
 * for archives above 4 GiB. We parse the central directory ourselves so a stored
 * entry is read straight from the file (or viewed in memory) without copying the
 * archive; deflated entries (a checkpoint re-zipped by another tool) are inflated
 * with fflate, incrementally, never past the size the directory declares.
 */
import { CheckpointError } from '@var/core/errors';
import { Inflate } from 'fflate';
import type { ByteSource } from './io.js';

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;

/** Deflate cannot expand data more than ~1032:1. */
const MAX_DEFLATE_RATIO = 1032;

const nameDecoder = new TextDecoder('utf-8');

let crcTable: Int32Array | undefined;
function makeCrcTable(): Int32Array {
  const t = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Node's zlib CRC-32 (native, SIMD: ~20x the JavaScript loop below, which mattered for the
 * 1.2 GB of d16), found without importing `node:zlib` so browsers and bundlers never see it.
 */
const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined = (() => {
  const getBuiltin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
  if (typeof getBuiltin !== 'function') return undefined;
  try {
    const z = getBuiltin('node:zlib') as { crc32?: (data: Uint8Array, value?: number) => number } | undefined;
    return typeof z?.crc32 === 'function' ? z.crc32 : undefined;
  } catch {
    return undefined;
  }
})();

/** CRC-32 (IEEE) of `data`, continuing from `crc`: Node's native one when present, else {@link crc32JS}. */
export function crc32(data: Uint8Array, crc = 0): number {
  return nativeCrc32 ? nativeCrc32(data, crc >>> 0) : crc32JS(data, crc);
}

/** CRC-32 (IEEE) in JavaScript (slicing-by-8 on little-endian hosts); what browsers use. */
export function crc32JS(data: Uint8Array, crc = 0): number {
  const t = (crcTable ??= makeCrcTable());
  let c = ~crc;
  let i = 0;
  const n = data.length;
  if (LITTLE_ENDIAN_HOST && n >= 16) {
    while ((data.byteOffset + i) & 3) c = t[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
    const pairs = (n - i) >>> 3;
    const w = new Int32Array(data.buffer, data.byteOffset + i, pairs * 2);
    for (let k = 0; k < w.length; k += 2) {
      const a = w[k] ^ c;
      const b = w[k + 1];
      c =
        t[1792 + (a & 0xff)] ^
        t[1536 + ((a >>> 8) & 0xff)] ^
        t[1280 + ((a >>> 16) & 0xff)] ^
        t[1024 + (a >>> 24)] ^
        t[768 + (b & 0xff)] ^
        t[512 + ((b >>> 8) & 0xff)] ^
        t[256 + ((b >>> 16) & 0xff)] ^
        t[b >>> 24];
    }
    i += pairs * 8;
  }
  while (i < n) c = t[(c ^ data[i++]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(d: DataView, off: number, what: string, label: string): number {
  const v = d.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointError(`${label}: zip ${what} ${v} is too large`);
  return Number(v);
}

/** True when `first4` starts a zip archive (local header or empty-archive EOCD). */
export function looksLikeZip(first4: Uint8Array): boolean {
  return (
    first4.length >= 4 &&
    first4[0] === 0x50 &&
    first4[1] === 0x4b &&
    (first4[2] === 3 || first4[2] === 5) &&
    (first4[3] === 4 || first4[3] === 6)
  );
}

export class ZipArchive {
  /** Entries by name, in central-directory order. */
  readonly entries: Map<string, ZipEntry>;
  private constructor(
    private readonly src: ByteSource,
    entries: Map<string, ZipEntry>,
  ) {
    this.entries = entries;
  }

  get label(): string {
    return this.src.label;
  }

  /** Parse the central directory of `src`. */
  static async open(src: ByteSource): Promise<ZipArchive> {
    const label = src.label;
    const size = src.size;
    if (size < 22)
      throw new CheckpointError(`${label}: not a zip archive (${size} bytes, too small for an end-of-central-directory record)`);
    const tailLen = Math.min(size, 22 + 0xffff + 20);
    const tailStart = size - tailLen;
    const tail = await src.read(tailStart, tailLen);
    const td = dv(tail);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (td.getUint32(i, true) === SIG_EOCD && i + 22 + td.getUint16(i + 20, true) === tail.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new CheckpointError(`${label}: zip end-of-central-directory record not found (truncated or not a zip)`);
    let count = td.getUint16(eocd + 10, true);
    let cdSize = td.getUint32(eocd + 12, true);
    let cdOffset = td.getUint32(eocd + 16, true);
    const diskNo = td.getUint16(eocd + 4, true);
    if (diskNo !== 0 && diskNo !== 0xffff) throw new CheckpointError(`${label}: multi-disk zip archives are not supported`);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      const loc = eocd - 20;
      if (loc < 0 || td.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) {
        throw new CheckpointError(`${label}: zip64 end-of-central-directory locator missing`);
      }
      const eocd64Off = u64(td, loc + 8, 'zip64 record offset', label);
      if (eocd64Off + 56 > size) throw new CheckpointError(`${label}: zip64 end-of-central-directory record lies outside the file`);
      const r = await src.read(eocd64Off, 56);
      const rd = dv(r);
      if (rd.getUint32(0, true) !== SIG_EOCD64)
        throw new CheckpointError(`${label}: zip64 end-of-central-directory record has a bad signature`);
      count = u64(rd, 32, 'entry count', label);
      cdSize = u64(rd, 40, 'central directory size', label);
      cdOffset = u64(rd, 48, 'central directory offset', label);
    }
    if (cdOffset + cdSize > size) {
      throw new CheckpointError(
        `${label}: zip central directory [${cdOffset}, ${cdOffset + cdSize}) lies outside the ${size}-byte file (truncated?)`,
      );
    }
    if (count * 46 > cdSize) throw new CheckpointError(`${label}: zip central directory of ${cdSize} bytes cannot hold ${count} entries`);
    const cd = await src.read(cdOffset, cdSize);
    const cdv = dv(cd);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > cd.length || cdv.getUint32(p, true) !== SIG_CENTRAL) {
        throw new CheckpointError(`${label}: zip central directory entry ${k} is malformed`);
      }
      const flags = cdv.getUint16(p + 8, true);
      const method = cdv.getUint16(p + 10, true);
      const crc = cdv.getUint32(p + 16, true);
      let compressedSize = cdv.getUint32(p + 20, true);
      let uncompressedSize = cdv.getUint32(p + 24, true);
      const nameLen = cdv.getUint16(p + 28, true);
      const extraLen = cdv.getUint16(p + 30, true);
      const commentLen = cdv.getUint16(p + 32, true);
      let localHeaderOffset = cdv.getUint32(p + 42, true);
      const end = p + 46 + nameLen + extraLen + commentLen;
      if (end > cd.length) throw new CheckpointError(`${label}: zip central directory entry ${k} runs past the directory`);
      const name = nameDecoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
      // zip64 extended information extra field
      let q = p + 46 + nameLen;
      const qEnd = q + extraLen;
      while (q + 4 <= qEnd) {
        const id = cdv.getUint16(q, true);
        const len = cdv.getUint16(q + 2, true);
        if (q + 4 + len > qEnd) throw new CheckpointError(`${label}: zip entry "${name}" has a malformed extra field`);
        if (id === 0x0001) {
          let r = q + 4;
          const take = (what: string) => {
            if (r + 8 > q + 4 + len) throw new CheckpointError(`${label}: zip entry "${name}" has a short zip64 extra field`);
            const v = u64(cdv, r, what, label);
            r += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = take('size');
          if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
        }
        q += 4 + len;
      }
      if (flags & 1) throw new CheckpointError(`${label}: zip entry "${name}" is encrypted`);
      if (entries.has(name)) throw new CheckpointError(`${label}: zip entry "${name}" appears twice`);
      if (localHeaderOffset + 30 > size) throw new CheckpointError(`${label}: zip entry "${name}" has its local header outside the file`);
      entries.set(name, { name, method, flags, crc32: crc, compressedSize, size: uncompressedSize, localHeaderOffset });
      p = end;
    }
    return new ZipArchive(src, entries);
  }

  private async dataOffset(e: ZipEntry): Promise<number> {
    const h = await this.src.read(e.localHeaderOffset, 30);
    const hd = dv(h);
    if (hd.getUint32(0, true) !== SIG_LOCAL)
      throw new CheckpointError(`${this.label}: zip entry "${e.name}" has a bad local header signature`);
    const start = e.localHeaderOffset + 30 + hd.getUint16(26, true) + hd.getUint16(28, true);
    if (start + e.compressedSize > this.src.size) {
      throw new CheckpointError(
        `${this.label}: zip entry "${e.name}" data [${start}, ${start + e.compressedSize}) runs past the end of the ${this.src.size}-byte file (truncated?)`,
      );
    }
    return start;
  }

  /**
   * The bytes of stored (uncompressed) entry `e` read into `target` (exactly `e.size` bytes),
   * without checking its CRC (the caller does, on `target`).
   * @throws CheckpointError when `e` is compressed, its sizes disagree, or it lies outside the file
   */
  async readStoredInto(e: ZipEntry, target: Uint8Array): Promise<void> {
    if (e.method !== 0 || e.compressedSize !== e.size || target.length !== e.size) {
      throw new CheckpointError(
        `${this.label}: zip entry "${e.name}" cannot be read in place (method ${e.method}, ${e.compressedSize} stored bytes, ${e.size} declared, ${target.length} asked for)`,
      );
    }
    await this.src.readInto(await this.dataOffset(e), target);
  }

  /**
   * The uncompressed bytes of `e`. For a stored entry of an in-memory archive this
   * is a view of the archive bytes; otherwise fresh memory.
   * `maxBytes` bounds the declared size before anything is allocated.
   */
  async read(e: ZipEntry, opts: { verifyCrc?: boolean; maxBytes?: number } = {}): Promise<Uint8Array> {
    const maxBytes = opts.maxBytes ?? Number.MAX_SAFE_INTEGER;
    if (e.size > maxBytes)
      throw new CheckpointError(`${this.label}: zip entry "${e.name}" declares ${e.size} bytes, above the limit of ${maxBytes}`);
    const start = await this.dataOffset(e);
    let out: Uint8Array;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) {
        throw new CheckpointError(`${this.label}: stored zip entry "${e.name}" has size ${e.size} but compressed size ${e.compressedSize}`);
      }
      out = await this.src.read(start, e.size);
    } else if (e.method === 8) {
      if (e.size > Math.max(1024, e.compressedSize * MAX_DEFLATE_RATIO)) {
        throw new CheckpointError(
          `${this.label}: zip entry "${e.name}" claims ${e.size} bytes from ${e.compressedSize} compressed bytes (impossible for deflate)`,
        );
      }
      out = this.inflate(e, await this.src.read(start, e.compressedSize));
    } else {
      throw new CheckpointError(
        `${this.label}: zip entry "${e.name}" uses compression method ${e.method}; only stored (0) and deflate (8) are supported`,
      );
    }
    if (opts.verifyCrc !== false) {
      const c = crc32(out);
      if (c !== e.crc32) {
        throw new CheckpointError(`${this.label}: zip entry "${e.name}" is corrupt (CRC-32 ${hex(c)}, directory says ${hex(e.crc32)})`);
      }
    }
    return out;
  }

  /** Inflate incrementally; memory follows the real output, never a lying declared size. */
  private inflate(e: ZipEntry, comp: Uint8Array): Uint8Array {
    const chunks: Uint8Array[] = [];
    let filled = 0;
    let finished = false;
    const inf = new Inflate((chunk, final) => {
      filled += chunk.length;
      if (filled > e.size) {
        throw new CheckpointError(`${this.label}: zip entry "${e.name}" inflates to more than the ${e.size} bytes it declares`);
      }
      chunks.push(chunk);
      if (final) finished = true;
    });
    const STEP = 16384;
    try {
      if (comp.length === 0) inf.push(comp, true);
      for (let i = 0; i < comp.length; i += STEP) {
        inf.push(comp.subarray(i, Math.min(comp.length, i + STEP)), i + STEP >= comp.length);
      }
    } catch (err) {
      if (err instanceof CheckpointError) throw err;
      throw new CheckpointError(`${this.label}: zip entry "${e.name}" has invalid deflate data (${(err as Error).message})`, {
        cause: err,
      });
    }
    if (!finished || filled !== e.size) {
      throw new CheckpointError(`${this.label}: zip entry "${e.name}" inflates to ${filled} bytes, expected ${e.size}`);
    }
    if (chunks.length === 1) return chunks[0];
    const out = new Uint8Array(filled);
    let p = 0;
    for (const c of chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}
