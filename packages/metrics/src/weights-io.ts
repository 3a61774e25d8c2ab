/**
 * Minimal safetensors reader for extractor weights (float32 / float16 / bfloat16 /
 * float64 tensors, converted to Float32Array). Kept here so that @var/metrics depends on
 * no model package; the full reader/writer lives in @var/checkpoint.
 */
import { CheckpointError } from './errors.js';

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** float16 bit pattern → number. */
export function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** number → float16 bit pattern (round to nearest even). */
export function floatToHalf(x: number): number {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = x;
  const u = u32[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

const SIZES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** Parse a safetensors file into float32 tensors. Throws CheckpointError on malformed input. */
export function parseWeights(input: Uint8Array | ArrayBuffer, label = 'weights'): Map<string, WeightTensor> {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 8) throw new CheckpointError(`${label}: file too short for safetensors (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) throw new CheckpointError(`${label}: safetensors header length ${n} exceeds the file (${bytes.length} bytes)`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch (err) {
    throw new CheckpointError(`${label}: safetensors header is not valid JSON`, { cause: err });
  }
  const base = 8 + n;
  const out = new Map<string, WeightTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const size = SIZES[info.dtype];
    if (!size) throw new CheckpointError(`${label}: tensor ${name} has dtype ${info.dtype}; expected F32, F16, BF16 or F64`);
    const count = info.shape.reduce((a, b) => a * b, 1);
    const [s, e] = info.data_offsets;
    if (e - s !== count * size || base + e > bytes.length) {
      throw new CheckpointError(
        `${label}: tensor ${name} [${info.shape}] ${info.dtype} has data_offsets [${s}, ${e}] inconsistent with its size or the file`,
      );
    }
    // a copy in a fresh ArrayBuffer (Node Buffers' slice() is a view into a shared pool)
    const raw = Uint8Array.prototype.slice.call(bytes, base + s, base + e);
    const data = new Float32Array(count);
    const rv = new DataView(raw.buffer);
    for (let i = 0; i < count; i++) {
      if (info.dtype === 'F32') data[i] = rv.getFloat32(i * 4, true);
      else if (info.dtype === 'F64') data[i] = rv.getFloat64(i * 8, true);
      else if (info.dtype === 'F16') data[i] = halfToFloat(rv.getUint16(i * 2, true));
      else {
        data[i] = new Float32Array(new Uint32Array([rv.getUint16(i * 2, true) << 16]).buffer)[0];
      }
    }
    out.set(name, { shape: info.shape, data });
  }
  return out;
}

/**
 * Read weight bytes from a URL (file: URLs and paths in Node; fetch elsewhere), an
 * ArrayBuffer or Uint8Array. Throws CheckpointError naming the location when absent.
 */
export async function readWeightBytes(src: string | URL | ArrayBuffer | Uint8Array, what: string, help: string): Promise<Uint8Array> {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  const isFileUrl = src instanceof URL ? src.protocol === 'file:' : !/^[a-z][a-z0-9+.-]*:\/\//i.test(src) || src.startsWith('file:');
  if (isFileUrl && typeof process !== 'undefined' && process.versions?.node) {
    const fs = await import('node:fs/promises');
    const { fileURLToPath } = await import('node:url');
    const path = src instanceof URL ? fileURLToPath(src) : src.startsWith('file:') ? fileURLToPath(src) : src;
    try {
      return new Uint8Array(await fs.readFile(path));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOENT') throw new CheckpointError(`${what}: weights file not found: ${path}. ${help}`, { cause: err });
      throw new CheckpointError(`${what}: cannot read weights file ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  const res = await fetch(src);
  if (!res.ok) throw new CheckpointError(`${what}: cannot fetch weights from ${String(src)}: HTTP ${res.status}. ${help}`);
  return new Uint8Array(await res.arrayBuffer());
}
