/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors).
 *
 * Layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`,
 * then the data buffer. The header is validated the way the reference Rust
 * implementation does before anything is allocated for the tensors.
 */
import { CheckpointError, ValueError } from '@var/core/errors';
import {
  checkRawTensor,
  DTYPE_SIZE,
  DTYPES,
  bytesLE,
  fmtShape,
  isDType,
  shapeNumel,
  typedFromLE,
  allocTyped,
  HOST_LITTLE_ENDIAN,
  swapBytesInPlace,
  type DType,
  type RawTensor,
  type StateDict,
} from './dtypes.js';
import { asBytes, describe, openSource, writeFileAtomic, type ByteSource, type CheckpointSource } from './io.js';

/** Upper bound on the JSON header size (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsReadOptions {
  /**
   * Copy tensor data out of the input. Default `false`: when `parseSafetensors` /
   * `readSafetensors` is given bytes, tensors whose data is suitably aligned are
   * zero-copy views of those bytes (mutating one mutates the other). Reading from a
   * path always gives each tensor its own memory.
   */
  copy?: boolean;
  /** Only load tensors for which this returns true (the header is still fully validated). */
  filter?: (name: string) => boolean;
}

export interface SafetensorsFile {
  tensors: StateDict;
  /** The `__metadata__` string map ({} when absent). */
  metadata: Record<string, string>;
}

/** One validated header entry. */
export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte range relative to the start of the data buffer. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute offset of the data buffer (8 + header length). */
  dataStart: number;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

function fail(label: string, msg: string): never {
  throw new CheckpointError(`${label}: invalid safetensors file: ${msg}`);
}

/** Read the 8-byte header length and check it against the file size. */
export function headerLength(first8: Uint8Array, fileSize: number, label: string): number {
  if (fileSize < 8 || first8.length < 8) fail(label, `file has ${fileSize} bytes, fewer than the 8-byte header length`);
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) fail(label, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const len = Number(n);
  if (8 + len > fileSize) fail(label, `header length ${len} runs past the end of the ${fileSize}-byte file (truncated?)`);
  if (len < 2) fail(label, `header length ${len} is too small for a JSON object`);
  return len;
}

/** Parse and validate the JSON header. `dataLength` is the size of the data buffer. */
export function parseHeader(headerBytes: Uint8Array, dataLength: number, label: string): Omit<SafetensorsHeader, 'dataStart'> {
  let text: string;
  try {
    text = utf8Decoder.decode(headerBytes);
  } catch {
    fail(label, 'header is not valid UTF-8');
  }
  if (text[0] !== '{') fail(label, `header must start with "{", found ${JSON.stringify(text.slice(0, 16))}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(label, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail(label, 'header JSON is not an object');
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null) continue;
      if (typeof info !== 'object' || Array.isArray(info))
        fail(label, `__metadata__ must be an object of strings, found ${describe(info)}`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(label, `__metadata__["${k}"] must be a string, found ${describe(v)}`);
        Object.defineProperty(metadata, k, { value: v, enumerable: true, writable: true, configurable: true });
      }
      continue;
    }
    if (typeof info !== 'object' || info === null || Array.isArray(info)) fail(label, `entry "${name}" is not an object`);
    const { dtype, shape, data_offsets: offs } = info as Record<string, unknown>;
    if (!isDType(dtype)) fail(label, `tensor "${name}" has unsupported dtype ${JSON.stringify(dtype)} (supported: ${DTYPES.join(', ')})`);
    if (!Array.isArray(shape)) fail(label, `tensor "${name}" has no shape array`);
    let numel: number;
    try {
      numel = shapeNumel(shape as number[], `tensor "${name}"`);
    } catch (e) {
      fail(label, (e as Error).message);
    }
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(label, `tensor "${name}" has invalid data_offsets ${safeJson(offs)} (expected [begin, end] non-negative integers)`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) fail(label, `tensor "${name}" has data_offsets [${begin}, ${end}] with begin > end`);
    if (end > dataLength) fail(label, `tensor "${name}" ends at byte ${end} of a ${dataLength}-byte data buffer (truncated?)`);
    const want = numel * DTYPE_SIZE[dtype];
    if (want !== end - begin) {
      fail(
        label,
        `tensor "${name}" ${dtype}${fmtShape(shape)} needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    entries.push({ name, dtype, shape: (shape as number[]).slice(), begin, end });
  }
  // Like the reference implementation: the tensors tile the data buffer exactly
  // (no overlap, no holes, nothing after the last tensor).
  const sorted = entries.slice().sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (const e of sorted) {
    if (e.begin < pos) fail(label, `tensor "${e.name}" [${e.begin}, ${e.end}) overlaps the previous tensor (ends at ${pos})`);
    if (e.begin > pos) fail(label, `bytes [${pos}, ${e.begin}) of the data buffer belong to no tensor (hole before "${e.name}")`);
    pos = e.end;
  }
  if (pos !== dataLength) fail(label, `the tensors cover ${pos} bytes but the data buffer has ${dataLength}`);
  return { entries, metadata };
}

function safeJson(v: unknown): string {
  try {
    return String(JSON.stringify(v)).slice(0, 80);
  } catch {
    return String(v);
  }
}

/**
 * Parse a complete safetensors file held in memory.
 * Throws {@link CheckpointError} for any malformed input.
 */
export function parseSafetensors(bytes: Uint8Array | ArrayBuffer, opts: SafetensorsReadOptions = {}): SafetensorsFile {
  return parseLabeled(asBytes(bytes), opts, 'safetensors bytes');
}

function parseLabeled(buf: Uint8Array, opts: SafetensorsReadOptions, label: string): SafetensorsFile {
  const n = headerLength(buf.subarray(0, 8), buf.length, label);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(buf.subarray(8, dataStart), buf.length - dataStart, label);
  const tensors: StateDict = new Map();
  for (const e of entries) {
    if (opts.filter && !opts.filter(e.name)) continue;
    const data = typedFromLE(e.dtype, buf.subarray(dataStart + e.begin, dataStart + e.end), !!opts.copy);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

/** Read and validate only the header of a safetensors source. */
export async function readSafetensorsHeader(src: ByteSource): Promise<SafetensorsHeader> {
  const n = headerLength(await src.read(0, Math.min(8, src.size)), src.size, src.label);
  const dataStart = 8 + n;
  const { entries, metadata } = parseHeader(await src.read(8, n), src.size - dataStart, src.label);
  return { entries, metadata, dataStart };
}

/**
 * Read a safetensors file from a path (Node; each tensor is read once, straight into
 * its own typed array), an ArrayBuffer / Uint8Array, or a fetch `Response`.
 */
export async function readSafetensors(src: CheckpointSource, opts: SafetensorsReadOptions = {}): Promise<SafetensorsFile> {
  const source = await openSource(src);
  try {
    return await readSafetensorsSource(source, opts);
  } finally {
    await source.close();
  }
}

/** Read a safetensors file from an open source (in memory: parsed in place; file: tensor by tensor). */
export async function readSafetensorsSource(source: ByteSource, opts: SafetensorsReadOptions = {}): Promise<SafetensorsFile> {
  if (source.inMemory) return parseLabeled(await source.read(0, source.size), opts, source.label);
  const header = await readSafetensorsHeader(source);
  const tensors: StateDict = new Map();
  for (const e of header.entries) {
    if (opts.filter && !opts.filter(e.name)) continue;
    const data = allocTyped(e.dtype, (e.end - e.begin) / DTYPE_SIZE[e.dtype]);
    const target = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    await source.readInto(header.dataStart + e.begin, target);
    if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(target, DTYPE_SIZE[e.dtype]);
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata: header.metadata };
}

function entriesOf(tensors: StateDict | Record<string, RawTensor>): [string, RawTensor][] {
  if (tensors instanceof Map) return [...tensors.entries()];
  if (typeof tensors !== 'object' || tensors === null)
    throw new ValueError(`expected a Map or an object of tensors, found ${describe(tensors)}`);
  return Object.entries(tensors);
}

interface Plan {
  header: Uint8Array;
  parts: Uint8Array[];
  total: number;
}

/**
 * Lay out a safetensors file. Data is ordered by decreasing element size so every
 * tensor starts at a multiple of its element size (the header is padded with spaces
 * to a multiple of 8), which lets readers make zero-copy typed-array views; the JSON
 * keys keep the caller's order.
 */
function plan(tensors: StateDict | Record<string, RawTensor>, metadata?: Record<string, string>): Plan {
  const list = entriesOf(tensors);
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (typeof name !== 'string') throw new ValueError(`tensor names must be strings, found ${describe(name)}`);
    if (name === '__metadata__') throw new ValueError('"__metadata__" is reserved and cannot be a tensor name');
    if (seen.has(name)) throw new ValueError(`duplicate tensor name "${name}"`);
    seen.add(name);
    checkRawTensor(name, t);
  }
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata))
      throw new ValueError(`metadata must be an object of strings, found ${describe(metadata)}`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ValueError(`metadata["${k}"] must be a string, found ${describe(v)}`);
    }
  }
  const order = list.map((_, i) => i).sort((a, b) => DTYPE_SIZE[list[b][1].dtype] - DTYPE_SIZE[list[a][1].dtype] || a - b);
  const offsets = new Array<[number, number]>(list.length);
  const parts: Uint8Array[] = [];
  let pos = 0;
  for (const i of order) {
    const t = list[i][1];
    const bytes = bytesLE(t.data, t.dtype);
    offsets[i] = [pos, pos + bytes.length];
    pos += bytes.length;
    parts.push(bytes);
  }
  const json: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) json.__metadata__ = { ...metadata };
  list.forEach(([name, t], i) => {
    Object.defineProperty(json, name, {
      value: { dtype: t.dtype, shape: t.shape.slice(), data_offsets: offsets[i] },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  });
  const headerBytes = utf8Encoder.encode(JSON.stringify(json));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES)
    throw new ValueError(`the safetensors header would be ${padded} bytes, above the ${MAX_HEADER_BYTES}-byte limit`);
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(headerBytes, 8);
  return { header, parts, total: header.length + pos };
}

/** Serialize tensors (and optional string metadata) to safetensors bytes. */
export function serializeSafetensors(tensors: StateDict | Record<string, RawTensor>, metadata?: Record<string, string>): Uint8Array {
  const p = plan(tensors, metadata);
  const out = new Uint8Array(p.total);
  out.set(p.header, 0);
  let pos = p.header.length;
  for (const part of p.parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

/**
 * Write a safetensors file atomically (Node): the data goes to a temporary file in
 * the same directory which is renamed over `path` only once complete. Tensor data is
 * streamed from the typed arrays; no second copy of the whole file is built.
 */
export async function writeSafetensors(
  path: string,
  tensors: StateDict | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  if (typeof path !== 'string' || path.length === 0)
    throw new ValueError(`writeSafetensors: expected a file path, found ${describe(path)}`);
  const p = plan(tensors, metadata);
  await writeFileAtomic(path, [p.header, ...p.parts]);
}
