/**
 * Weights from host memory into backend memory in one copy, rearranged on the way.
 *
 * Checkpoints store linear weights (out, in) and conv weights OIHW; the kernels want (in, out)
 * and HWIO. `tf.tensor(data)` followed by `tf.transpose` holds the weight three times (the
 * host array, the tensor, its transpose) and runs tfjs-wasm's generic transpose, which was
 * most of the time of loading d16. {@link weightTensor} instead allocates the tensor's memory
 * on the backend (on wasm: inside the heap, uninitialised) and writes the rearranged values
 * straight into it with cache-blocked loops, so a weight passes through memory once.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ValueError } from '../errors.js';

/** How a host array is rearranged into the tensor: kept, a 2-D transpose, or a conv weight OIHW → HWIO. */
export type WeightLayout = 'as-is' | 'transpose' | 'oihw-to-hwio';

/** The shape a {@link WeightLayout} gives `shape`. */
export function weightLayoutShape(shape: readonly number[], layout: WeightLayout): number[] {
  if (layout === 'as-is') return [...shape];
  if (layout === 'transpose') {
    if (shape.length !== 2) throw new ValueError(`weightTensor: 'transpose' needs a 2-D shape, got [${shape.join(', ')}]`);
    return [shape[1], shape[0]];
  }
  if (shape.length !== 4) throw new ValueError(`weightTensor: 'oihw-to-hwio' needs a 4-D shape, got [${shape.join(', ')}]`);
  const [o, i, h, w] = shape;
  return [h, w, i, o];
}

const TILE = 32;

/**
 * The kernel of both rearrangements: `dst[rowOf[k] * R + r] = src[r * K + k]` for r < R, k < K —
 * a 2-D transpose of the (R, K) source whose output rows are placed by `rowOf` (identity for a
 * plain transpose). 32×32 tiles keep both sides in cache; inside them 4×4 blocks are read into
 * registers and written back transposed (about twice the speed of one element at a time in V8).
 */
function transposeRows(src: Float32Array, R: number, K: number, dst: Float32Array, rowOf: Int32Array | null): void {
  for (let r0 = 0; r0 < R; r0 += TILE) {
    const r1 = Math.min(r0 + TILE, R);
    const r4 = r0 + ((r1 - r0) & ~3);
    for (let k0 = 0; k0 < K; k0 += TILE) {
      const k1 = Math.min(k0 + TILE, K);
      const k4 = k0 + ((k1 - k0) & ~3);
      for (let k = k0; k < k4; k += 4) {
        const d0 = (rowOf ? rowOf[k] : k) * R;
        const d1 = (rowOf ? rowOf[k + 1] : k + 1) * R;
        const d2 = (rowOf ? rowOf[k + 2] : k + 2) * R;
        const d3 = (rowOf ? rowOf[k + 3] : k + 3) * R;
        for (let r = r0; r < r4; r += 4) {
          const s0 = r * K + k;
          const s1 = s0 + K;
          const s2 = s1 + K;
          const s3 = s2 + K;
          const a0 = src[s0],
            a1 = src[s0 + 1],
            a2 = src[s0 + 2],
            a3 = src[s0 + 3];
          const b0 = src[s1],
            b1 = src[s1 + 1],
            b2 = src[s1 + 2],
            b3 = src[s1 + 3];
          const c0 = src[s2],
            c1 = src[s2 + 1],
            c2 = src[s2 + 2],
            c3 = src[s2 + 3];
          const e0 = src[s3],
            e1 = src[s3 + 1],
            e2 = src[s3 + 2],
            e3 = src[s3 + 3];
          dst[d0 + r] = a0;
          dst[d0 + r + 1] = b0;
          dst[d0 + r + 2] = c0;
          dst[d0 + r + 3] = e0;
          dst[d1 + r] = a1;
          dst[d1 + r + 1] = b1;
          dst[d1 + r + 2] = c1;
          dst[d1 + r + 3] = e1;
          dst[d2 + r] = a2;
          dst[d2 + r + 1] = b2;
          dst[d2 + r + 2] = c2;
          dst[d2 + r + 3] = e2;
          dst[d3 + r] = a3;
          dst[d3 + r + 1] = b3;
          dst[d3 + r + 2] = c3;
          dst[d3 + r + 3] = e3;
        }
      }
      // the tile's ragged edges, one element at a time
      for (let k = k0; k < k1; k++) {
        const d = (rowOf ? rowOf[k] : k) * R;
        for (let r = k < k4 ? r4 : r0; r < r1; r++) dst[d + r] = src[r * K + k];
      }
    }
  }
}

/**
 * `dst` (cols, rows) = transpose of `src` (rows, cols), both row-major, in cache-sized tiles.
 * `dst` must not overlap `src`.
 */
export function transpose2DInto(src: Float32Array, rows: number, cols: number, dst: Float32Array): void {
  if (src.length < rows * cols || dst.length < rows * cols) {
    throw new ValueError(`transpose2DInto: ${rows}×${cols} needs ${rows * cols} values, got ${src.length} in and ${dst.length} out`);
  }
  transposeRows(src, rows, cols, dst, null);
}

/**
 * `dst` HWIO from `src` OIHW (shape `[o, i, h, w]`): a 2-D transpose of (O, I·H·W) whose output
 * rows are regrouped from (i, hw) to (hw, i).
 */
export function oihwToHwioInto(src: Float32Array, shape: readonly number[], dst: Float32Array): void {
  const [O, I, H, W] = shape;
  const HW = H * W;
  const K = I * HW;
  if (src.length < O * K || dst.length < O * K) {
    throw new ValueError(`oihwToHwioInto: [${shape.join(', ')}] needs ${O * K} values, got ${src.length} in and ${dst.length} out`);
  }
  const rowOf = new Int32Array(K);
  for (let i = 0; i < I; i++) for (let hw = 0; hw < HW; hw++) rowOf[i * HW + hw] = hw * I + i;
  transposeRows(src, O, K, dst, HW === 1 ? null : rowOf);
}

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/** The active backend's way to allocate uninitialised float32 memory and view it, where it has one (wasm). */
function heapBackend(): WasmHeapBackend | null {
  if (tf.getBackend() !== 'wasm') return null;
  const b = tf.backend() as unknown as Partial<WasmHeapBackend>;
  return typeof b.makeOutput === 'function' && typeof b.typedArrayFromHeap === 'function' ? (b as WasmHeapBackend) : null;
}

function rearrange(src: Float32Array, shape: readonly number[], layout: WeightLayout, dst: Float32Array): void {
  if (layout === 'as-is') dst.set(src.length === dst.length ? src : src.subarray(0, dst.length));
  else if (layout === 'transpose') transpose2DInto(src, shape[0], shape[1], dst);
  else oihwToHwioInto(src, shape, dst);
}

/**
 * A float32 tensor of `data` (checkpoint layout `shape`) rearranged by `layout`, written once
 * into backend memory: on wasm straight into the heap (no host copy, no transpose kernel); on
 * other backends through one new host array handed to `tf.tensor` (on webgpu uploaded to its GPU
 * buffer at once, the host array then released). The caller owns the tensor;
 * `data` is never kept (the caller may reuse or change it).
 * @throws ValueError when `data` does not hold `shape`'s elements or the layout does not fit the shape.
 */
export function weightTensor(data: Float32Array, shape: readonly number[], layout: WeightLayout = 'as-is'): tf.Tensor {
  const out = weightLayoutShape(shape, layout);
  const n = out.reduce((a, b) => a * b, 1);
  if (data.length !== n) throw new ValueError(`weightTensor: [${shape.join(', ')}] has ${n} elements, the data ${data.length}`);
  const heap = heapBackend();
  if (heap) {
    const info = heap.makeOutput(out, 'float32');
    // The view is taken after the allocation (which may grow the heap) and used before any other.
    rearrange(data, shape, layout, heap.typedArrayFromHeap(info));
    return tf.engine().makeTensorFromTensorInfo(info);
  }
  // A fresh array even 'as-is': backends such as cpu and webgpu keep the array they are given.
  const host = new Float32Array(n);
  rearrange(data, shape, layout, host);
  const t = tf.tensor(host, out, 'float32');
  uploadNow(t);
  return t;
}

interface WebGPUUploader {
  uploadToGPU(dataId: object): void;
  submitQueue(): void;
  commandEncoder?: unknown;
}

/**
 * On webgpu, put the tensor in its GPU buffer now and drop the host copy (tfjs-webgpu uploads on
 * first use and keeps the array until then: loading d24 would otherwise hold all 4 GB in host
 * memory before the first generation). The copy command is submitted at once so its staging
 * buffer is freed before the next weight's.
 */
function uploadNow(t: tf.Tensor): void {
  if (tf.getBackend() !== 'webgpu') return;
  const b = tf.backend() as unknown as Partial<WebGPUUploader>;
  if (typeof b.uploadToGPU !== 'function' || typeof b.submitQueue !== 'function') return;
  b.uploadToGPU(t.dataId);
  if (b.commandEncoder) b.submitQueue();
}
