/**
 * Extractor weights from safetensors bytes (float32 / float16 / bfloat16 / float64 tensors,
 * converted to Float32Array), read by @var/checkpoint — which, like this package, loads without
 * TensorFlow.js.
 */
import { CheckpointError, parseSafetensors, toFloat32Array } from '@var/checkpoint';

/** float16 bit pattern ⇄ number: @var/checkpoint's conversions, under the names this package exported. */
export { f16BitsToFloat as halfToFloat, floatToF16Bits as floatToHalf } from '@var/checkpoint';

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Parse a safetensors file into float32 tensors. Throws CheckpointError (naming `label`) on malformed input. */
export function parseWeights(input: Uint8Array | ArrayBuffer, label = 'weights'): Map<string, WeightTensor> {
  let file: ReturnType<typeof parseSafetensors>;
  try {
    file = parseSafetensors(input);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(`${label}: ${e.message}`, { cause: e });
    throw e;
  }
  const out = new Map<string, WeightTensor>();
  for (const [name, t] of file.tensors) {
    if (!FLOAT_DTYPES.has(t.dtype))
      throw new CheckpointError(`${label}: tensor ${name} has dtype ${t.dtype}; expected F32, F16, BF16 or F64`);
    // a copy in a fresh buffer: the parsed tensors may be views of the input bytes
    out.set(name, { shape: [...t.shape], data: Float32Array.from(toFloat32Array(t)) });
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
