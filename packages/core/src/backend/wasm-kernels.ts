/**
 * Kernels the wasm backend of TensorFlow.js 4.22 lacks but gradients of VQVAE/VAR training
 * graphs call. `tf.getKernelsForBackend('wasm')` has 157 kernels; compared with the cpu
 * backend it misses Conv2DBackpropFilter (the filter gradient of conv2d), UnsortedSegmentSum
 * (the gradient of gather, i.e. of embedding lookups), the depthwise-conv backprops, Einsum,
 * and complex/FFT/ragged/string kernels. The first two (and the depthwise backprops, for
 * completeness) are registered here for backend 'wasm':
 *
 *  - Conv2DBackpropFilter: one forward convolution with batch and channels swapped (NHWC,
 *    kernels > 1×1); otherwise, for each filter tap (kh, kw), a (strided) slice of the padded
 *    input multiplied with dy by the wasm BatchMatMul (XNNPACK):
 *    dW[kh, kw] = X_{kh,kw}ᵀ · dY with X_{kh,kw}: (B·OH·OW, Cin) and dY: (B·OH·OW, Cout).
 *  - UnsortedSegmentSum: one pass over the data in wasm memory (O(size), no one-hot).
 *  - DepthwiseConv2dNativeBackpropInput/Filter: direct loops over wasm memory.
 *
 * Kernels the wasm backend has are replaced because they run on a naive loop:
 *  - BatchMatMul: tfjs-backend-wasm uses XNNPACK only for untransposed, unbatched products;
 *    matMul gradients (transposed) and attention (batched) are 10-40x slower. See
 *    fastBatchMatMul. (tfjs-core's own BatchMatMul gradient then runs at XNNPACK speed: model
 *    code needs no custom matMul gradient; measured equal or faster than one that
 *    materialises the transposes with tf ops, packages/core/bench/grad-kernels.mjs.)
 *  - Conv2DBackpropInput: one forward convolution of the padded dy with the rotated filter
 *    (stride 1, NHWC, kernels > 1×1); otherwise one XNNPACK product + col2im (~10x faster
 *    than tfjs' direct loop either way).
 *  - AvgPoolGrad with non-overlapping windows: a nearest upsampling of dy, scaled.
 *
 * These are the only TensorFlow.js speed workarounds of var.ts: the model packages use plain
 * tf ops and take tfjs-core's gradients.
 *
 * Slice, SplitV and Unpack are replaced because tfjs-backend-wasm 4.22's slice reads its
 * input with `readSync`, which copies the WHOLE input out of the wasm heap on every call: one
 * slice of an 11 MB tensor costs ~6 ms however small the slice, and splitting it into 128
 * heads ~600 ms (attention's per-head products, batched matMul items). Here slices copy only
 * what they return, from typed-array views of the heap (see fastSlice).
 *
 * All are built from wasm kernels or plain loops over the wasm heap; nothing leaves wasm
 * memory except through typed-array views.
 */
import * as tf from '@tensorflow/tfjs-core';
import { backend_util, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, NamedTensorInfoMap, TensorInfo } from '@tensorflow/tfjs-core';
import { afterXnnProduct } from './wasm-packing.js';

/** The parts of tfjs-backend-wasm's BackendWasm used here. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): backend_util.TypedArray;
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
}

const BACKEND = 'wasm';

/** Calls registered wasm kernels and frees the intermediates it made. */
class KernelRunner {
  private readonly made: TensorInfo[] = [];
  constructor(private readonly backend: WasmBackendLike) {}
  run(name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
    if (name === '__var_wasm_BatchMatMul_orig') {
      const out = originalBatchMatMul!.kernelFunc({
        inputs,
        attrs: { transposeA: false, transposeB: false },
        backend: this.backend as any,
      }) as TensorInfo;
      afterXnnProduct(this.backend, inputs.b as TensorInfo);
      this.made.push(out);
      return out;
    }
    const k = tf.getKernel(name, BACKEND);
    if (!k) throw new Error(`wasm kernel ${name} is not registered`);
    const out = k.kernelFunc({ inputs, attrs, backend: this.backend as any }) as TensorInfo;
    this.made.push(out);
    return out;
  }
  /** Frees every intermediate except `keep`. */
  finish(keep?: TensorInfo): void {
    for (const t of this.made) if (t !== keep) this.backend.disposeData(t.dataId);
    this.made.length = 0;
  }
}

function conv2DBackpropFilterPerTap(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
  const $dataFormat = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    $dataFormat,
  );
  const r = new KernelRunner(backend);
  try {
    let xs = x;
    let dys = dy;
    if ($dataFormat === 'channelsFirst') {
      xs = r.run('Transpose', { x }, { perm: [0, 2, 3, 1] });
      dys = r.run('Transpose', { x: dy }, { perm: [0, 2, 3, 1] });
    }
    const { batchSize: B, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
    const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
    const { top, bottom, left, right } = info.padInfo;
    const [, H, W] = xs.shape;
    // Pad enough that every tap's window fits (bottom/right may need more than padInfo says
    // when the window overhangs; never less).
    const needH = (OH - 1) * SH + KH;
    const needW = (OW - 1) * SW + KW;
    const padB = Math.max(0, needH - (H + top));
    const padR = Math.max(0, needW - (W + left));
    void bottom;
    void right;
    const xp =
      top || left || padB || padR
        ? r.run(
            'PadV2',
            { x: xs },
            {
              paddings: [
                [0, 0],
                [top, padB],
                [left, padR],
                [0, 0],
              ],
              constantValue: 0,
            },
          )
        : xs;
    const N = B * OH * OW;
    const dy3 = r.run('Reshape', { x: dys }, { shape: [1, N, Co] });
    // (Ci, B, Hp, Wp): each tap's window then reshapes straight to (1, Ci, N), so the product
    // (1, Ci, N)·(1, N, Co) needs no transpose flag and runs in XNNPACK (tfjs-backend-wasm
    // sends transposed or batched products to a naive loop, 10-40x slower). XNNPACK packs dy
    // once and reuses it for every tap (its operator cache is keyed on dy's id).
    const xt = r.run('Transpose', { x: xp }, { perm: [3, 0, 1, 2] });
    const taps: TensorInfo[] = [];
    const size = [Ci, B, (OH - 1) * SH + 1, (OW - 1) * SW + 1];
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        let patch = r.run('Slice', { x: xt }, { begin: [0, 0, kh, kw], size });
        if (SH !== 1 || SW !== 1) {
          patch = r.run(
            'StridedSlice',
            { x: patch },
            {
              begin: [0, 0, 0, 0],
              end: size,
              strides: [1, 1, SH, SW],
              beginMask: 0,
              endMask: 0,
              ellipsisMask: 0,
              newAxisMask: 0,
              shrinkAxisMask: 0,
            },
          );
        }
        const p3 = r.run('Reshape', { x: patch }, { shape: [1, Ci, N] });
        taps.push(r.run('BatchMatMul', { a: p3, b: dy3 }, { transposeA: false, transposeB: false })); // (1, Ci, Co)
      }
    }
    const stacked = taps.length === 1 ? taps[0] : r.run('Concat', taps as unknown as NamedTensorInfoMap, { axis: 0 });
    const out = r.run('Reshape', { x: stacked }, { shape: [KH, KW, Ci, Co] });
    r.finish(out);
    return out;
  } catch (e) {
    r.finish();
    throw e;
  }
}

function unsortedSegmentSum(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, segmentIds } = args.inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const numSegments = args.attrs.numSegments as number;
  util.assert(Number.isInteger(numSegments) && numSegments >= 0, () => `numSegments must be a non-negative integer, got ${numSegments}`);
  const idRank = segmentIds.shape.length;
  util.assert(
    util.arraysEqual(x.shape.slice(0, idRank), segmentIds.shape),
    () => `segmentIds shape ${JSON.stringify(segmentIds.shape)} must be a prefix of x shape ${JSON.stringify(x.shape)}`,
  );
  const rows = util.sizeFromShape(segmentIds.shape);
  const inner = util.sizeFromShape(x.shape.slice(idRank));
  const dtype = x.dtype === 'bool' ? 'int32' : x.dtype;
  const out = backend.makeOutput([numSegments, ...x.shape.slice(idRank)], dtype);
  const o = backend.typedArrayFromHeap(out);
  o.fill(0);
  const xv = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  for (let r = 0; r < rows; r++) {
    const s = ids[r];
    if (s < 0 || s >= numSegments) continue; // TensorFlow drops out-of-range ids
    const src = r * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xv[src + j];
  }
  return out;
}

/**
 * Conv2DBackpropInput (the conv2d input gradient) as one XNNPACK product and a col2im pass:
 * cols (N, KH·KW·Cin) = dY (N, Cout) · Wᵀ (Cout, KH·KW·Cin), then every column is added to
 * the input pixel it came from. tfjs-backend-wasm's own kernel is a direct loop ~10x slower
 * than the forward conv.
 */
function conv2DBackpropInputCol2im(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as {
    strides: [number, number] | number;
    pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
  const $dataFormat = backend_util.convertConv2DDataFormat(dataFormat);
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    $dataFormat,
  );
  const { batchSize: B, inHeight: H, inWidth: W, inChannels: Ci, outChannels: Co, outHeight: OH, outWidth: OW } = info;
  const { filterHeight: KH, filterWidth: KW, strideHeight: SH, strideWidth: SW } = info;
  const { top, left } = info.padInfo;
  const r = new KernelRunner(backend);
  try {
    const dys = $dataFormat === 'channelsFirst' ? r.run('Transpose', { x: dy }, { perm: [0, 2, 3, 1] }) : dy;
    const N = B * OH * OW;
    const T = KH * KW * Ci;
    const dy3 = r.run('Reshape', { x: dys }, { shape: [1, N, Co] });
    const w2 = r.run('Reshape', { x: filter }, { shape: [T, Co] });
    const wt = r.run('Transpose', { x: w2 }, { perm: [1, 0] });
    const wt3 = r.run('Reshape', { x: wt }, { shape: [1, Co, T] });
    const cols = r.run('BatchMatMul', { a: dy3, b: wt3 }, { transposeA: false, transposeB: false }); // (1, N, T)
    const dxNhwc = backend.makeOutput([B, H, W, Ci], 'float32');
    // Views are taken after the last allocation (a heap growth would detach them).
    const dx = backend.typedArrayFromHeap(dxNhwc);
    const c = backend.typedArrayFromHeap(cols);
    dx.fill(0);
    for (let b = 0; b < B; b++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          const n = (b * OH + oh) * OW + ow;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - top + kh;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - left + kw;
              if (iw < 0 || iw >= W) continue;
              const src = n * T + (kh * KW + kw) * Ci;
              const dst = ((b * H + ih) * W + iw) * Ci;
              for (let ci = 0; ci < Ci; ci++) dx[dst + ci] += c[src + ci];
            }
          }
        }
      }
    }
    if ($dataFormat === 'channelsFirst') {
      const out = r.run('Transpose', { x: dxNhwc }, { perm: [0, 3, 1, 2] });
      backend.disposeData(dxNhwc.dataId);
      r.finish(out);
      return out;
    }
    r.finish();
    return dxNhwc;
  } catch (e) {
    r.finish();
    throw e;
  }
}

type ConvArgs = { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap };
type ConvAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};
const FORWARD_CONV_ATTRS = { pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined } as unknown as NamedAttrMap;

/** Pad (positive) or crop (negative) the H and W axes of an NHWC tensor. */
function padCrop(r: KernelRunner, x: TensorInfo, top: number, bottom: number, left: number, right: number): TensorInfo {
  let t = x;
  const [n, h, w, c] = t.shape;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [ct, cb, cl, cr] = [top, bottom, left, right].map((v) => Math.max(0, -v));
    t = r.run('Slice', { x: t }, { begin: [0, ct, cl, 0], size: [n, h - ct - cb, w - cl - cr, c] });
  }
  const [pt, pb, pl, pr] = [top, bottom, left, right].map((v) => Math.max(0, v));
  if (pt || pb || pl || pr) {
    const paddings = [
      [0, 0],
      [pt, pb],
      [pl, pr],
      [0, 0],
    ];
    t = r.run('PadV2', { x: t }, { paddings, constantValue: 0 });
  }
  return t;
}

/**
 * Conv2DBackpropInput as one forward convolution (XNNPACK): dx = conv2d(pad(dy), W rotated
 * 180° with in/out swapped, 'valid'), for NHWC, stride 1 and kernels larger than 1×1. Other
 * cases go to {@link conv2DBackpropInputCol2im}. Measured single-threaded at the MNIST
 * tokenizer's 3×3 shapes: 0.5-0.85× the col2im kernel's time (slower only for 1×1 kernels).
 */
function conv2DBackpropInput(args: ConvArgs): TensorInfo {
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
  const [KH, KW] = filter.shape;
  const stride1 = a.strides === 1 || (Array.isArray(a.strides) && a.strides[0] === 1 && a.strides[1] === 1);
  if (a.dataFormat === 'NCHW' || !stride1 || KH * KW === 1) return conv2DBackpropInputCol2im(args);
  const info = backend_util.computeConv2DInfo(
    a.inputShape,
    filter.shape as [number, number, number, number],
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { inHeight: H, inWidth: W, outHeight: OH, outWidth: OW } = info;
  const { top, left } = info.padInfo;
  const r = new KernelRunner(args.backend as WasmBackendLike);
  try {
    const pT = KH - 1 - top;
    const pL = KW - 1 - left;
    const padded = padCrop(r, dy, pT, H + KH - 1 - OH - pT, pL, W + KW - 1 - OW - pL);
    const rev = r.run('Reverse', { x: filter }, { dims: [0, 1] });
    const wT = r.run('Transpose', { x: rev }, { perm: [0, 1, 3, 2] });
    const out = r.run('Conv2D', { x: padded, filter: wT }, { ...FORWARD_CONV_ATTRS, strides: [1, 1], dilations: [1, 1] });
    r.finish(out);
    return out;
  } catch (e) {
    r.finish();
    throw e;
  }
}

/**
 * Conv2DBackpropFilter as one forward convolution (XNNPACK) with the roles of batch and
 * channels swapped: conv2d(transpose(pad(x)) (Ci, Hp, Wp, N), transpose(dy) (OH, OW, N, Co),
 * dilation = stride, 'valid') = (Ci, KH, KW, Co) → (KH, KW, Ci, Co); NHWC, any stride,
 * kernels larger than 1×1. Other cases go to {@link conv2DBackpropFilterPerTap}. Measured
 * single-threaded at the MNIST tokenizer's 3×3 shapes: 0.35-0.9× the per-tap kernel's time at
 * stride 1, ≈0.05× at stride 2 (slower only for 1×1 kernels). packages/core/bench/grad-kernels.mjs
 * compares the whole conv gradient with the custom-gradient conv the tokenizer used to carry.
 */
function conv2DBackpropFilter(args: ConvArgs): TensorInfo {
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const a = args.attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
  const [KH, KW] = a.filterShape;
  if (a.dataFormat === 'NCHW' || KH * KW === 1) return conv2DBackpropFilterPerTap(args);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    a.filterShape,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
    false,
    'channelsLast',
  );
  const { inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, strideHeight: SH, strideWidth: SW } = info;
  const { top, left } = info.padInfo;
  const r = new KernelRunner(args.backend as WasmBackendLike);
  try {
    // exactly the rows/columns the windows read: (OH-1)·SH + KH (crop or pad bottom/right to that)
    const xp = padCrop(r, x, top, (OH - 1) * SH + KH - H - top, left, (OW - 1) * SW + KW - W - left);
    const xt = r.run('Transpose', { x: xp }, { perm: [3, 1, 2, 0] }); // (Ci, Hp, Wp, N)
    const f = r.run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // (OH, OW, N, Co)
    const conv = r.run('Conv2D', { x: xt, filter: f }, { ...FORWARD_CONV_ATTRS, strides: [1, 1], dilations: [SH, SW] });
    const out = r.run('Transpose', { x: conv }, { perm: [1, 2, 0, 3] }); // (KH, KW, Ci, Co)
    r.finish(out);
    return out;
  } catch (e) {
    r.finish();
    throw e;
  }
}

/**
 * AvgPoolGrad for non-overlapping windows (filter = stride, 'valid', as area downsampling and
 * global average pools use): every input pixel of window (i, j) gets dy[i, j] / (kh·kw), i.e. a
 * nearest upsampling of dy, scaled. tfjs-backend-wasm's own kernel (the fallback for other
 * pools) is a direct loop (≈880 ms → a few ms per tokenizer step).
 */
function avgPoolGrad(args: ConvArgs): TensorInfo {
  const fallback = () => originalKernels.get(tf.AvgPoolGrad)!.kernelFunc(args as never) as TensorInfo;
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const a = args.attrs as unknown as { filterSize: [number, number] | number; strides: [number, number] | number; pad: unknown };
  const [kh, kw] = Array.isArray(a.filterSize) ? a.filterSize : [a.filterSize, a.filterSize];
  const [sh, sw] = Array.isArray(a.strides) ? a.strides : [a.strides, a.strides];
  if (kh !== sh || kw !== sw || !(a.pad === 'valid' || a.pad === 0) || input.shape.length !== 4 || dy.dtype !== 'float32')
    return fallback();
  const [, H, W] = input.shape;
  const [, OH, OW] = dy.shape;
  if (OH * kh > H || OW * kw > W) return fallback();
  const r = new KernelRunner(args.backend as WasmBackendLike);
  try {
    const up = r.run('ResizeNearestNeighbor', { images: dy }, { alignCorners: false, halfPixelCenters: false, size: [OH * kh, OW * kw] });
    const scale = r.run('Fill', {}, { shape: [], value: 1 / (kh * kw), dtype: 'float32' });
    const scaled = r.run('Multiply', { a: up, b: scale });
    const out = padCrop(r, scaled, 0, H - OH * kh, 0, W - OW * kw);
    r.finish(out);
    return out;
  } catch (e) {
    r.finish();
    throw e;
  }
}

/** Products below this many multiply-adds stay on tfjs's own loop (overhead dominates). */
const MIN_FAST_WORK = 16384;
/** Item-by-item batches need this much work per item to beat tfjs's loop (measured break-even
 * near 128×64×128 per item). */
const MIN_FAST_ITEM_WORK = 1 << 16;
/** `a·bᵀ` with at most this many rows is computed as `(b·aᵀ)ᵀ` (see fastBatchMatMul). */
const SWAP_MAX_ROWS = 64;

let originalBatchMatMul: KernelConfig | undefined;
const originalKernels = new Map<string, KernelConfig>();

type SliceArgs = { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap };

/** Copy x[begin : begin+size] (already parsed) into a new wasm tensor, reading only what it returns. */
function sliceInto(backend: WasmBackendLike, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const n = util.sizeFromShape(size);
  if (n === 0) return out;
  // views taken after makeOutput: allocating may grow (and so move) the heap
  const xv = backend.typedArrayFromHeap(x);
  const ov = backend.typedArrayFromHeap(out);
  const rank = x.shape.length;
  const strides = util.computeStrides(x.shape);
  const stride = (d: number) => (d < rank - 1 ? strides[d] : 1);
  // the innermost run of dims copied whole: dims after `k` span their full extent
  let k = rank - 1;
  while (k > 0 && size[k] === x.shape[k]) k--;
  const run = k < 0 ? n : size.slice(k).reduce((a, v) => a * v, 1);
  const outer = n / run;
  let base = 0;
  for (let d = 0; d < rank; d++) base += begin[d] * stride(d);
  if (outer === 1) {
    ov.set(xv.subarray(base, base + run));
    return out;
  }
  // odometer over dims 0..k-1
  const idx = new Array<number>(k).fill(0);
  for (let o = 0; o < outer; o++) {
    let off = base;
    for (let d = 0; d < k; d++) off += idx[d] * stride(d);
    ov.set(xv.subarray(off, off + run), o * run);
    for (let d = k - 1; d >= 0; d--) {
      if (++idx[d] < size[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

function fastSlice(args: SliceArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return originalKernels.get(tf.Slice)!.kernelFunc(args as never) as TensorInfo;
  const { begin, size } = args.attrs as unknown as { begin: number | number[]; size: number | number[] };
  const [b, sz] = tf.slice_util.parseSliceParams(x as unknown as tf.TensorInfo & { shape: number[] } as never, begin, size);
  return sliceInto(args.backend as WasmBackendLike, x, b, sz);
}

function fastSplitV(args: SliceArgs): TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return originalKernels.get(tf.SplitV)!.kernelFunc(args as never) as TensorInfo[];
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  const ax = util.parseAxisParam(axis, x.shape)[0];
  const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax);
  const begin = new Array<number>(x.shape.length).fill(0);
  return sizes.map((s) => {
    const size = x.shape.slice();
    size[ax] = s;
    const out = sliceInto(args.backend as WasmBackendLike, x, begin, size);
    begin[ax] += s;
    return out;
  });
}

function fastUnpack(args: SliceArgs): TensorInfo[] {
  const { value } = args.inputs as { value: TensorInfo };
  if (value.dtype === 'string') return originalKernels.get(tf.Unpack)!.kernelFunc(args as never) as TensorInfo[];
  const rank = value.shape.length;
  let axis = (args.attrs as unknown as { axis: number }).axis;
  if (axis < 0) axis += rank;
  const outShape = value.shape.filter((_, i) => i !== axis);
  const begin = new Array<number>(rank).fill(0);
  const size = value.shape.slice();
  size[axis] = 1;
  const outs: TensorInfo[] = [];
  for (let i = 0; i < value.shape[axis]; i++) {
    begin[axis] = i;
    const o = sliceInto(args.backend as WasmBackendLike, value, begin, size);
    outs.push({ dataId: o.dataId, dtype: o.dtype, shape: outShape });
  }
  return outs;
}

/**
 * Identity and a Cast to the same dtype without a copy: the output shares the input's memory, as
 * the wasm Reshape does (and the cpu backend's Identity). tfjs-backend-wasm copies the whole
 * tensor, and tfjs's gradients call Identity thousands of times per training step (≈7900 in one
 * mid-config step). No wasm kernel writes into its inputs, so the sharing is invisible. A Cast to
 * bool gives 0/1 (tfjs-backend-wasm's keeps the number: 2 → 2, 0.5 → 0).
 */
function shareInput(backend: unknown, x: TensorInfo, dtype: tf.DataType): TensorInfo {
  (backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype };
}

function sharedIdentity(args: SliceArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype === 'string') return originalKernels.get(tf.Identity)!.kernelFunc(args as never) as TensorInfo;
  return shareInput(args.backend, x, x.dtype);
}

function fastCast(args: SliceArgs): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
  if (dtype === 'bool' && (x.dtype === 'float32' || x.dtype === 'int32')) {
    const backend = args.backend as WasmBackendLike;
    const out = backend.makeOutput(x.shape, 'bool');
    const xv = backend.typedArrayFromHeap(x);
    const ov = backend.typedArrayFromHeap(out);
    for (let i = 0; i < xv.length; i++) ov[i] = xv[i] !== 0 ? 1 : 0;
    return out;
  }
  if (x.dtype !== dtype || x.dtype === 'string') return originalKernels.get(tf.Cast)!.kernelFunc(args as never) as TensorInfo;
  return shareInput(args.backend, x, dtype);
}

const FAST_REPLACEMENTS: ReadonlyArray<[string, KernelFunc]> = [
  [tf.Identity, sharedIdentity as unknown as KernelFunc],
  [tf.Cast, fastCast as unknown as KernelFunc],
  [tf.AvgPoolGrad, avgPoolGrad as unknown as KernelFunc],
  [tf.Slice, fastSlice as unknown as KernelFunc],
  [tf.SplitV, fastSplitV as unknown as KernelFunc],
  [tf.Unpack, fastUnpack as unknown as KernelFunc],
];

/**
 * BatchMatMul that keeps transposed and batched products on XNNPACK. tfjs-backend-wasm 4.22
 * runs `a·b` through XNNPACK only when neither side is transposed and both batch sizes are 1;
 * every other case (all matMul gradients, attention's batched products) goes to a naive
 * single-threaded loop that is 10-40x slower. Here a transposed operand is transposed
 * explicitly (XNNPACK transpose), a batch shared by `a` only is folded into its rows, and
 * equal batches are multiplied item by item; then the fast path does the work.
 */
function fastBatchMatMul(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const orig = originalBatchMatMul!.kernelFunc as (a: typeof args) => TensorInfo;
  const backend = args.backend as WasmBackendLike;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return orig(args);
  const aR = a.shape.length;
  const bR = b.shape.length;
  if (aR < 2 || bR < 2) return orig(args);
  const M = transposeA ? a.shape[aR - 1] : a.shape[aR - 2];
  const K = transposeA ? a.shape[aR - 2] : a.shape[aR - 1];
  const Kb = transposeB ? b.shape[bR - 1] : b.shape[bR - 2];
  const N = transposeB ? b.shape[bR - 2] : b.shape[bR - 1];
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(outerA);
  const batchB = util.sizeFromShape(outerB);
  const simple = !transposeA && !transposeB && batchA === 1 && batchB === 1;
  if (simple) {
    const out = orig(args); // XNNPACK, which packs b (see wasm-packing.ts)
    afterXnnProduct(backend, b);
    return out;
  }
  if (K !== Kb || M * K * N < MIN_FAST_WORK || M === 0 || N === 0 || K === 0) return orig(args);
  const sameBatch = batchA === batchB && util.arraysEqual(outerA, outerB);
  if (!(batchB === 1 || (batchA === 1 && batchB > 1) || sameBatch)) return orig(args); // general broadcasting
  if (batchA > 1 && batchB > 1 && M * K * N < MIN_FAST_ITEM_WORK) return orig(args);
  const outOuter = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
  const outShape = [...outOuter, M, N];
  const r = new KernelRunner(backend);
  try {
    const contiguous = (t: TensorInfo, batch: number, rows: number, cols: number, transposed: boolean): TensorInfo => {
      if (!transposed) return r.run('Reshape', { x: t }, { shape: [batch, rows, cols] });
      const t3 = r.run('Reshape', { x: t }, { shape: [batch, cols, rows] });
      return r.run('Transpose', { x: t3 }, { perm: [0, 2, 1] });
    };
    const mm = (x: TensorInfo, y: TensorInfo): TensorInfo => r.run('__var_wasm_BatchMatMul_orig', { a: x, b: y }, {});
    if (transposeB && !transposeA && batchA === 1 && batchB === 1 && M <= SWAP_MAX_ROWS && M < N) {
      // a·bᵀ with few rows (the gradient into the input of a linear layer fed by one vector per
      // sample, e.g. adaLN): XNNPACK would transpose and then pack all of b; (a·bᵀ)ᵀ = b·aᵀ
      // packs only the small aᵀ and reads b as stored.
      const b2 = r.run('Reshape', { x: b }, { shape: [1, N, K] });
      const at = contiguous(a, 1, K, M, true); // (1, K, M)
      const ct = mm(b2, at); // (1, N, M)
      const c = r.run('Transpose', { x: ct }, { perm: [0, 2, 1] });
      const out = r.run('Reshape', { x: c }, { shape: outShape });
      r.finish(out);
      return out;
    }
    const a3 = contiguous(a, batchA, M, K, transposeA); // (batchA, M, K)
    const b3 = contiguous(b, batchB, K, N, transposeB); // (batchB, K, N)
    let res: TensorInfo;
    if (batchB === 1) {
      // b shared by every item of a: fold a's batch into its rows.
      const a2 = r.run('Reshape', { x: a3 }, { shape: [1, batchA * M, K] });
      res = mm(a2, b3);
    } else if (batchA === 1) {
      // a shared by every item of b: a · [b_0 | b_1 | …] with b laid out as (K, batchB·N).
      const bt = r.run('Transpose', { x: b3 }, { perm: [1, 0, 2] });
      const b2 = r.run('Reshape', { x: bt }, { shape: [1, K, batchB * N] });
      const a2 = r.run('Reshape', { x: a3 }, { shape: [1, M, K] });
      const wide = mm(a2, b2); // (1, M, batchB·N)
      const w3 = r.run('Reshape', { x: wide }, { shape: [M, batchB, N] });
      res = r.run('Transpose', { x: w3 }, { perm: [1, 0, 2] });
    } else {
      const items: TensorInfo[] = [];
      for (let i = 0; i < batchA; i++) {
        const ai = r.run('Slice', { x: a3 }, { begin: [i, 0, 0], size: [1, M, K] });
        const bi = r.run('Slice', { x: b3 }, { begin: [i, 0, 0], size: [1, K, N] });
        items.push(mm(ai, bi));
      }
      res = items.length === 1 ? items[0] : r.run('Concat', items as unknown as NamedTensorInfoMap, { axis: 0 });
    }
    const out = r.run('Reshape', { x: res }, { shape: outShape });
    r.finish(out);
    return out;
  } catch (e) {
    r.finish();
    throw e;
  }
}

type DwAttrs = {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

function depthwiseInfo(xShape: number[], filterShape: number[], attrs: DwAttrs) {
  return backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

function depthwiseBackpropFilter(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
  const attrs = args.attrs as unknown as DwAttrs & { filterShape: number[] };
  const c = depthwiseInfo(x.shape, attrs.filterShape, attrs);
  const [FH, FW, IC, CM] = attrs.filterShape;
  const out = backend.makeOutput([FH, FW, IC, CM], 'float32');
  const dw = backend.typedArrayFromHeap(out);
  dw.fill(0);
  const xv = backend.typedArrayFromHeap(x);
  const dyv = backend.typedArrayFromHeap(dy);
  const [, H, W] = x.shape;
  const OC = IC * CM;
  for (let b = 0; b < c.batchSize; b++)
    for (let oh = 0; oh < c.outHeight; oh++)
      for (let ow = 0; ow < c.outWidth; ow++)
        for (let fh = 0; fh < FH; fh++) {
          const ih = oh * c.strideHeight - c.padInfo.top + fh * c.dilationHeight;
          if (ih < 0 || ih >= H) continue;
          for (let fw = 0; fw < FW; fw++) {
            const iw = ow * c.strideWidth - c.padInfo.left + fw * c.dilationWidth;
            if (iw < 0 || iw >= W) continue;
            const xo = ((b * H + ih) * W + iw) * IC;
            const dyo = ((b * c.outHeight + oh) * c.outWidth + ow) * OC;
            const wo = (fh * FW + fw) * OC;
            for (let d = 0; d < OC; d++) dw[wo + d] += xv[xo + Math.floor(d / CM)] * dyv[dyo + d];
          }
        }
  return out;
}

function depthwiseBackpropInput(args: { inputs: NamedTensorInfoMap; backend: unknown; attrs: NamedAttrMap }): TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
  const attrs = args.attrs as unknown as DwAttrs & { inputShape: number[] };
  const c = depthwiseInfo(attrs.inputShape, filter.shape, attrs);
  const [FH, FW, IC, CM] = filter.shape;
  const [B, H, W] = attrs.inputShape;
  const out = backend.makeOutput([B, H, W, IC], 'float32');
  const dx = backend.typedArrayFromHeap(out);
  dx.fill(0);
  const fv = backend.typedArrayFromHeap(filter);
  const dyv = backend.typedArrayFromHeap(dy);
  const OC = IC * CM;
  for (let b = 0; b < B; b++)
    for (let oh = 0; oh < c.outHeight; oh++)
      for (let ow = 0; ow < c.outWidth; ow++)
        for (let fh = 0; fh < FH; fh++) {
          const ih = oh * c.strideHeight - c.padInfo.top + fh * c.dilationHeight;
          if (ih < 0 || ih >= H) continue;
          for (let fw = 0; fw < FW; fw++) {
            const iw = ow * c.strideWidth - c.padInfo.left + fw * c.dilationWidth;
            if (iw < 0 || iw >= W) continue;
            const xo = ((b * H + ih) * W + iw) * IC;
            const dyo = ((b * c.outHeight + oh) * c.outWidth + ow) * OC;
            const wo = (fh * FW + fw) * OC;
            for (let d = 0; d < OC; d++) dx[xo + Math.floor(d / CM)] += fv[wo + d] * dyv[dyo + d];
          }
        }
  return out;
}

/** The kernels this module adds, by name. */
export const WASM_TRAINING_KERNELS: readonly KernelConfig[] = [
  { kernelName: tf.Conv2DBackpropFilter, backendName: BACKEND, kernelFunc: conv2DBackpropFilter as unknown as KernelFunc },
  { kernelName: tf.UnsortedSegmentSum, backendName: BACKEND, kernelFunc: unsortedSegmentSum as unknown as KernelFunc },
  {
    kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
    backendName: BACKEND,
    kernelFunc: depthwiseBackpropFilter as unknown as KernelFunc,
  },
  { kernelName: tf.DepthwiseConv2dNativeBackpropInput, backendName: BACKEND, kernelFunc: depthwiseBackpropInput as unknown as KernelFunc },
];

/** Kernels the wasm backend has but runs slowly; {@link registerWasmTrainingKernels} replaces them. */
export const WASM_FAST_KERNELS: readonly string[] = [
  tf.BatchMatMul,
  tf.Conv2DBackpropInput,
  tf.AvgPoolGrad,
  tf.Slice,
  tf.SplitV,
  tf.Unpack,
  tf.Identity,
  tf.Cast,
];

/**
 * Register, for backend 'wasm', the gradient kernels that TensorFlow.js's wasm backend lacks
 * and VQVAE/VAR training needs (see the module comment), and replace the slow ones of
 * {@link WASM_FAST_KERNELS} (BatchMatMul with transposes/batches, Conv2DBackpropInput,
 * AvgPoolGrad, slicing, Identity and same-dtype Cast) by versions that run on XNNPACK, copy only
 * what they return, or share the input's memory. Kernels already registered (by an earlier call, or by a
 * future tfjs version that has them) are left alone. Safe to call any number of times, before
 * or after the wasm backend is initialised. Returns the names it registered in this call.
 */
export function registerWasmTrainingKernels(): string[] {
  const added: string[] = [];
  for (const k of WASM_TRAINING_KERNELS) {
    if (tf.getKernel(k.kernelName, BACKEND) === undefined) {
      tf.registerKernel(k);
      added.push(k.kernelName);
    }
  }
  const bmm = tf.getKernel(tf.BatchMatMul, BACKEND);
  if (bmm && bmm.kernelFunc !== (fastBatchMatMul as unknown as KernelFunc)) {
    originalBatchMatMul = bmm;
    tf.unregisterKernel(tf.BatchMatMul, BACKEND);
    tf.registerKernel({ ...bmm, kernelFunc: fastBatchMatMul as unknown as KernelFunc });
    added.push(tf.BatchMatMul);
  }
  for (const [name, func] of FAST_REPLACEMENTS) {
    const k = tf.getKernel(name, BACKEND);
    if (k && k.kernelFunc !== func) {
      originalKernels.set(name, k);
      tf.unregisterKernel(name, BACKEND);
      tf.registerKernel({ ...k, kernelFunc: func });
      added.push(name);
    }
  }
  const bpi = tf.getKernel(tf.Conv2DBackpropInput, BACKEND);
  if (bpi && bpi.kernelFunc !== (conv2DBackpropInput as unknown as KernelFunc)) {
    tf.unregisterKernel(tf.Conv2DBackpropInput, BACKEND);
    tf.registerKernel({
      kernelName: tf.Conv2DBackpropInput,
      backendName: BACKEND,
      kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
    });
    added.push(tf.Conv2DBackpropInput);
  }
  return added;
}
