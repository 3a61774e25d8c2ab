/**
 * @var/checkpoint — safetensors read/write and a safe PyTorch `.pth` reader
 * (no pickle code is executed), plus state-dict comparison and conversion.
 */
import { ValueError } from '@var/core/errors';
import { DTYPE_SIZE, type DType, type RawTensor, type StateDict } from './dtypes.js';
import { fromFloat32, isFloatDType, toFloat32Array } from './convert.js';
import { describe, openSource, type ByteProgress, type CheckpointSource } from './io.js';
import { readPthSource, type ReadPthOptions } from './pth.js';
import { readSafetensorsSource, writeSafetensors, type SafetensorsReadOptions } from './safetensors.js';
import { checkpointFormat } from './format.js';

export { CheckpointError } from '@var/core/errors';
export {
  DTYPES,
  DTYPE_SIZE,
  isDType,
  type DType,
  type RawTensor,
  type StateDict,
  type TensorData,
} from './dtypes.js';
export {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  MAX_HEADER_BYTES,
  type SafetensorsFile,
  type SafetensorsReadOptions,
} from './safetensors.js';
export { readPth, readPthObject, type ReadPthOptions } from './pth.js';
export { writePth, serializePth, pthParts, type WritePthOptions } from './pth-writer.js';
export {
  pickleTorch,
  pyTuple,
  pyFloat,
  pyOrderedDict,
  PickleTuple,
  PickleFloat,
  PickleOrderedDict,
  STORAGE_CLASS,
  type PickleValue,
  type PickleTensor,
  type PickledStorage,
  type PickledTorchObject,
} from './pickle-writer.js';
export {
  toFloat32Array,
  toInt32Array,
  fromFloat32,
  f16BitsToFloat,
  floatToF16Bits,
  bf16BitsToFloat,
  floatToBf16Bits,
  isFloatDType,
} from './convert.js';
export {
  compareStateDict,
  formatStateDictReport,
  assertStateDictMatches,
  StateDictMismatchError,
  type ExpectedShapes,
  type ExpectedShapesFile,
  type StateDictReport,
  type ShapeMismatch,
  type DTypeMismatch,
  type TensorShapes,
} from './compare.js';
export { crc32 } from './zip.js';
export {
  openStateDict,
  readTensors,
  ScratchBuffer,
  type CheckpointReader,
  type OpenStateDictOptions,
  type TensorEntry,
} from './reader.js';
export { readStreamBytes } from './io.js';
export type { BlobLike, ByteProgress, ByteStream, CheckpointSource, ResponseLike } from './io.js';

export type LoadStateDictOptions = ReadPthOptions &
  SafetensorsReadOptions & {
    /** Bytes read so far of this checkpoint (file reads, or the download of a Response). */
    onProgress?: (p: ByteProgress) => void;
  };

export { detectFormat } from './format.js';

/**
 * Load a state dict from a `.pth` (zip) or `.safetensors` file, telling them apart
 * by content (zip magic "PK" vs a safetensors header), from a path, bytes or a
 * fetch `Response`. Safetensors metadata is dropped; use {@link readSafetensors} to
 * keep it.
 */
export async function loadStateDict(src: CheckpointSource, opts: LoadStateDictOptions = {}): Promise<StateDict> {
  const source = await openSource(src, opts.onProgress);
  try {
    const head = await source.read(0, Math.min(16, source.size));
    const fmt = checkpointFormat(head, source.label);
    if (fmt === 'pth') return await readPthSource(source, opts);
    if (opts.key !== undefined)
      throw new ValueError('loadStateDict: option key applies to .pth checkpoints, but this is a safetensors file');
    return (await readSafetensorsSource(source, opts)).tensors;
  } finally {
    await source.close();
  }
}

export interface PthToSafetensorsOptions {
  /** Store floating-point tensors (F32/F64/BF16) as F16. Integer and bool tensors are kept. */
  float16?: boolean;
  /** Which object of the checkpoint is the state dict (see {@link ReadPthOptions.key}). */
  key?: string | string[];
  /** Extra `__metadata__` entries (`format: 'pt'` is always written). */
  metadata?: Record<string, string>;
}

export interface PthToSafetensorsResult {
  /** Number of tensors written. */
  tensors: number;
  /** Bytes of tensor data written (excluding the header). */
  dataBytes: number;
  /** Tensors whose dtype was changed (float16 option). */
  converted: number;
  /** Finite values that became ±Infinity in float16 (|x| > 65504). */
  overflowed: number;
  /** Count of tensors per dtype in the output. */
  dtypes: Partial<Record<DType, number>>;
}

/**
 * Convert a PyTorch checkpoint to a safetensors file (Node). The output is written
 * atomically; its metadata holds `format: 'pt'`.
 */
export async function pthToSafetensors(src: string, dst: string, opts: PthToSafetensorsOptions = {}): Promise<PthToSafetensorsResult> {
  if (typeof dst !== 'string' || dst.length === 0)
    throw new ValueError(`pthToSafetensors: expected a destination path, found ${describe(dst)}`);
  const source = await openSource(src);
  let sd: StateDict;
  try {
    sd = await readPthSource(source, { key: opts.key, copy: false });
  } finally {
    await source.close();
  }
  const out: StateDict = new Map();
  let converted = 0;
  let overflowed = 0;
  let dataBytes = 0;
  const dtypes: Partial<Record<DType, number>> = {};
  for (const [k, t] of sd) {
    let o: RawTensor = t;
    if (opts.float16 && isFloatDType(t.dtype) && t.dtype !== 'F16') {
      const f = toFloat32Array(t);
      o = fromFloat32(f, t.shape, 'F16');
      const bits = o.data as Uint16Array;
      for (let i = 0; i < bits.length; i++) {
        if ((bits[i] & 0x7fff) === 0x7c00 && Number.isFinite(f[i])) overflowed++;
      }
      converted++;
    }
    out.set(k, o);
    dataBytes += o.data.length * DTYPE_SIZE[o.dtype];
    dtypes[o.dtype] = (dtypes[o.dtype] ?? 0) + 1;
  }
  await writeSafetensors(dst, out, { ...(opts.metadata ?? {}), format: 'pt' });
  return { tensors: out.size, dataBytes, converted, overflowed, dtypes };
}
