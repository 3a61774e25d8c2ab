/**
 * Tensor dtypes shared by the safetensors and .pth readers, and the dense
 * in-memory tensor type ({@link RawTensor}) both produce.
 */
import { CheckpointError, ValueError } from '@var/core/errors';

/** Element types understood by this package (safetensors names). */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** The typed array that holds a tensor's elements. */
export type TensorData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/**
 * A dense, row-major (C-contiguous) tensor in host byte order.
 *
 * `data` is the typed array for `dtype`: F16 and BF16 are `Uint16Array` bit
 * patterns, I64 is `BigInt64Array`, BOOL is `Uint8Array` (0 or 1 as stored).
 * `data.length` equals the product of `shape` (1 for a scalar, `shape = []`).
 */
export interface RawTensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
}

/** Map from parameter name to tensor, in file order. */
export type StateDict = Map<string, RawTensor>;

export const DTYPES: readonly DType[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];

/** Bytes per element of each dtype. */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(DTYPE_SIZE, s);
}

type TypedCtor = {
  new (length: number): TensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  readonly name: string;
};

const CTOR: Record<DType, TypedCtor> = {
  F64: Float64Array as unknown as TypedCtor,
  F32: Float32Array as unknown as TypedCtor,
  F16: Uint16Array as unknown as TypedCtor,
  BF16: Uint16Array as unknown as TypedCtor,
  I64: BigInt64Array as unknown as TypedCtor,
  I32: Int32Array as unknown as TypedCtor,
  I16: Int16Array as unknown as TypedCtor,
  I8: Int8Array as unknown as TypedCtor,
  U8: Uint8Array as unknown as TypedCtor,
  BOOL: Uint8Array as unknown as TypedCtor,
};

/** Name of the typed array class that holds `dtype`. */
export function typedArrayName(dtype: DType): string {
  return CTOR[dtype].name;
}

/** A new zero-filled typed array of `length` elements of `dtype`. */
export function allocTyped(dtype: DType, length: number): TensorData {
  return new CTOR[dtype](length);
}

/** True when this machine stores multi-byte numbers little-endian (every mainstream JS engine). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reverse the byte order of every `size`-byte element of `bytes`, in place. */
export function swapBytesInPlace(bytes: Uint8Array, size: number): void {
  if (size <= 1) return;
  for (let i = 0; i + size <= bytes.length; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/**
 * A typed array of `dtype` over `bytes` (little-endian file bytes).
 * Returns a zero-copy view when the bytes are suitably aligned and the host is
 * little-endian and `copy` is false; otherwise a fresh copy (byte-swapped on a
 * big-endian host).
 */
export function typedFromLE(dtype: DType, bytes: Uint8Array, copy: boolean): TensorData {
  const size = DTYPE_SIZE[dtype];
  if (bytes.length % size !== 0) {
    throw new CheckpointError(`${bytes.length} bytes is not a whole number of ${dtype} elements (${size} bytes each)`);
  }
  const n = bytes.length / size;
  if (!copy && HOST_LITTLE_ENDIAN && bytes.byteOffset % size === 0) {
    return new CTOR[dtype](bytes.buffer, bytes.byteOffset, n);
  }
  const out = allocTyped(dtype, n);
  const outBytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  outBytes.set(bytes);
  if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(outBytes, size);
  return out;
}

/** The bytes of a typed array, little-endian (a view when the host is little-endian). */
export function bytesLE(data: TensorData, dtype: DType): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN) return view;
  const copy = view.slice();
  swapBytesInPlace(copy, DTYPE_SIZE[dtype]);
  return copy;
}

/**
 * Product of `shape` as a safe integer; throws a CheckpointError (naming `what`)
 * for a negative, fractional or non-numeric dimension or an element count above
 * 2^53.
 */
export function shapeNumel(shape: readonly number[], what: string): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new CheckpointError(
        `${what}: shape ${fmtShape(shape)} has an invalid dimension ${String(d)} (expected a non-negative integer)`,
      );
    }
    n *= d;
    if (!Number.isSafeInteger(n)) {
      throw new CheckpointError(`${what}: shape ${fmtShape(shape)} has more elements than can be addressed (2^53)`);
    }
  }
  return n;
}

export function fmtShape(shape: readonly unknown[]): string {
  try {
    return `[${shape.map((d) => String(d)).join(', ')}]`;
  } catch {
    return '[?]';
  }
}

/** Check that a RawTensor is well formed (dtype known, data type and length matching shape). */
export function checkRawTensor(name: string, t: RawTensor): void {
  if (!t || typeof t !== 'object')
    throw new ValueError(`tensor "${name}": expected a RawTensor object, found ${t === null ? 'null' : typeof t}`);
  if (!isDType(t.dtype))
    throw new ValueError(`tensor "${name}": unknown dtype ${JSON.stringify(t.dtype)} (expected one of ${DTYPES.join(', ')})`);
  if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new ValueError(`tensor "${name}": shape must be an array of non-negative integers, found ${JSON.stringify(t.shape)}`);
  }
  const Ctor = CTOR[t.dtype];
  if (!(t.data instanceof (Ctor as unknown as abstract new (...args: never[]) => unknown))) {
    const found = (t.data as object | undefined)?.constructor?.name ?? typeof t.data;
    throw new ValueError(`tensor "${name}": dtype ${t.dtype} needs data as ${Ctor.name}, found ${found}`);
  }
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new ValueError(`tensor "${name}": shape ${fmtShape(t.shape)} has ${n} elements but data has ${t.data.length}`);
  }
}
