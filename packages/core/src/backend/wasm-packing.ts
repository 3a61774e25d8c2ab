/**
 * Packed weights of tfjs-backend-wasm's XNNPACK products, and a mode that does not keep them.
 *
 * tfjs-backend-wasm 4.22 multiplies `a · b` (no transposes, no batch) with an XNNPACK
 * fully-connected operator that holds a packed copy of `b` (the "weights"), cached under b's
 * tensor id until that tensor is disposed (batch_mat_mul_impl.cc: `operator_cache`, freed by a
 * disposal callback of the id). A model's linear weights live as long as the model, so after its
 * first generation the wasm heap holds every linear weight twice. A d16 VAR (1.2 GB of linear
 * weights) fits twice; a d20 (2.4 GB) does not fit 4 GiB twice.
 *
 * - `'cached'` (default): tfjs's behaviour, fastest; the bytes held are tracked
 *   ({@link wasmPackedWeightBytes}).
 * - `'per-call'`: after each such product the packed copy is dropped again, by moving `b` to a
 *   fresh tensor id (the C++ side disposes the old id, which runs the disposal callbacks that free
 *   the cached operators; the same memory is registered under the new id, so the data and the
 *   tensor stay as they are). Costs one repacking per product (a copy of the weight); holds at
 *   most one packed weight at a time.
 *
 * @var/sampling switches to 'per-call' for a generation whose estimate does not fit with every
 * weight packed (and frees what is packed first with {@link releaseWasmPackedWeights}).
 */
import { util } from '@tensorflow/tfjs-core';
import type { TensorInfo } from '@tensorflow/tfjs-core';
import { ValueError } from '../errors.js';

/** What the wasm backend's XNNPACK products keep of the weights they multiply by. */
export type WasmWeightPacking = 'cached' | 'per-call';

/** The parts of tfjs-backend-wasm's BackendWasm this module reads (internal fields of 4.22). */
interface WasmBackendInternals {
  dataIdMap: { get(id: object): { id: number; memoryOffset: number; shape: number[] } | undefined; has(id: object): boolean };
  dataIdNextNumber: number;
  wasm: { tfjs: { disposeData(id: number): void; registerTensor(id: number, size: number, offset: number): void } };
}

let mode: WasmWeightPacking = 'cached';
/** Tensors (by dataId) multiplied by in 'cached' mode, with the bytes of their packed copy. */
const packed = new Map<object, number>();
let lastBackend: WasmBackendInternals | undefined;

const isInternals = (b: unknown): b is WasmBackendInternals => {
  const x = b as Partial<WasmBackendInternals> | undefined;
  return (
    !!x &&
    typeof x.dataIdMap?.get === 'function' &&
    typeof x.dataIdNextNumber === 'number' &&
    typeof x.wasm?.tfjs?.disposeData === 'function' &&
    typeof x.wasm?.tfjs?.registerTensor === 'function'
  );
};

/** The current mode. */
export function wasmWeightPacking(): WasmWeightPacking {
  return mode;
}

/** Set the mode; returns the previous one. */
export function setWasmWeightPacking(next: WasmWeightPacking): WasmWeightPacking {
  if (next !== 'cached' && next !== 'per-call')
    throw new ValueError(`weight packing must be 'cached' or 'per-call'; got ${JSON.stringify(next)}`);
  const prev = mode;
  mode = next;
  return prev;
}

function prune(be: WasmBackendInternals): void {
  for (const id of packed.keys()) if (!be.dataIdMap.has(id)) packed.delete(id);
}

/**
 * Bytes of the packed copies XNNPACK holds now for live tensors multiplied by in 'cached' mode
 * (float32, ≈ the weights' own size; XNNPACK pads a little). Not in `tf.memory().numBytes`.
 */
export function wasmPackedWeightBytes(): number {
  if (!lastBackend) return 0;
  prune(lastBackend);
  let n = 0;
  for (const v of packed.values()) n += v;
  return n;
}

/** Move a tensor to a fresh id of the same memory: its cached XNNPACK operators are freed. */
function rekey(be: WasmBackendInternals, dataId: object): void {
  const d = be.dataIdMap.get(dataId);
  if (!d) return;
  const size = util.sizeFromShape(d.shape);
  be.wasm.tfjs.disposeData(d.id);
  const id = be.dataIdNextNumber++;
  be.wasm.tfjs.registerTensor(id, size, d.memoryOffset);
  d.id = id;
}

/**
 * Free every packed copy held now (the tensors keep their data). Returns the bytes released.
 * A no-op where the wasm backend was not used.
 */
export function releaseWasmPackedWeights(): number {
  const be = lastBackend;
  if (!be) return 0;
  prune(be);
  let n = 0;
  for (const [id, bytes] of packed) {
    rekey(be, id);
    n += bytes;
  }
  packed.clear();
  return n;
}

/**
 * Called by the BatchMatMul kernel after an XNNPACK product `a · b` (untransposed, batch 1):
 * tracks b's packed copy ('cached') or drops it ('per-call').
 */
export function afterXnnProduct(backend: unknown, b: TensorInfo): void {
  if (!isInternals(backend)) return;
  lastBackend = backend;
  if (mode === 'per-call') {
    rekey(backend, b.dataId);
    packed.delete(b.dataId);
    return;
  }
  if (!packed.has(b.dataId)) {
    if (packed.size > 4096) prune(backend);
    packed.set(b.dataId, util.sizeFromShape(b.shape) * 4);
  }
}
