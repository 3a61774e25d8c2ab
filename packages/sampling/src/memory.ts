/**
 * Memory needed to generate a batch, estimated before anything is allocated, and the check that
 * turns "too large for this backend" into a typed {@link OutOfMemoryError} naming the largest
 * batch that fits (instead of a wasm `RangeError`/abort half-way through a generation).
 *
 * The estimate follows what is alive at the peak of `autoregressiveInferCfg`:
 * - transformer phase: a second copy of every linear weight (tfjs-backend-wasm's XNNPACK product
 *   keeps a packed copy of each weight it multiplies by while the weight lives; the weights
 *   themselves are tensors, counted in what the backend holds) — or, with @var/core's 'per-call'
 *   weight packing (chosen on wasm when the packed copies do not fit), one packed weight at a
 *   time — plus per image (×2 sequences for
 *   classifier-free guidance) the KV cache of all L tokens and the activations of one block at
 *   the last scale (every block runs in its own tidy), and the logits with their filtered copies;
 * - decoder phase (the session is freed first): the activations of the largest decoder level.
 * The per-image transformer term carries a factor calibrated on measured `tf.profile` peaks;
 * memory.test.ts checks that the estimate stays above the measured peak and within 1.6× of it.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  formatBytes,
  OutOfMemoryError,
  releaseWasmPackedWeights,
  setWasmWeightPacking,
  WASM_HEAP_MAX_BYTES,
  type WasmWeightPacking,
  wasmPackedWeightBytes,
} from '@var/core';
import type { SamplerVAR, SamplerVQVAE } from './types.js';

/** Bytes a wasm module can address (tfjs-backend-wasm's heap maximum, 4 GiB − 64 KiB): @var/core's constant. */
export { WASM_HEAP_MAX_BYTES };
/** Head-room kept free of the estimate on wasm (allocator fragmentation, small tensors). */
export const WASM_HEADROOM_BYTES = 128 * 1024 * 1024;
/** The sizes the estimate reads (from a `VAR`'s and a `VQVAE`'s config). */
export interface GenerationShape {
  depth: number;
  embedDim: number;
  numHeads: number;
  mlpRatio: number;
  vocabSize: number;
  patchNums: readonly number[];
  /** Decoder widths: base channels and per-level multipliers; absent = no decoder term. */
  ch?: number;
  chMult?: readonly number[];
  /** Image side in pixels (latent side × downsample). */
  imageSize: number;
}

/** The estimate of one batch. */
export interface GenerationMemoryEstimate {
  batch: number;
  /** Peak bytes over both phases. */
  bytes: number;
  /** Transformer phase: fixed (the packed copies of the linear weights, or the largest one with 'per-call' packing) and per image. */
  transformerFixedBytes: number;
  transformerPerImageBytes: number;
  /** Decoder phase, per image (0 without decoding). */
  decoderPerImageBytes: number;
}

/** The sizes of a sampler pair, or null when they do not say (structural models without configs). */
export function generationShape(vae: SamplerVQVAE, model: SamplerVAR): GenerationShape | null {
  const c = model.config as Partial<{ depth: number; embedDim: number; numHeads: number; mlpRatio: number }> & SamplerVAR['config'];
  if (![c.depth, c.embedDim, c.numHeads].every((v) => typeof v === 'number' && v > 0)) return null;
  const vc = (vae as { config?: { ch?: number; chMult?: number[] } }).config ?? {};
  const P = c.patchNums[c.patchNums.length - 1];
  return {
    depth: c.depth!,
    embedDim: c.embedDim!,
    numHeads: c.numHeads!,
    mlpRatio: c.mlpRatio ?? 4,
    vocabSize: c.vocabSize,
    patchNums: c.patchNums,
    ch: vc.ch,
    chMult: vc.chMult,
    imageSize: P * (vae.downsample || 16),
  };
}

/** Estimated peak bytes of generating `batch` images with classifier-free guidance (2 sequences each). */
export interface GenerationMemoryOptions {
  /** Count the decoder phase (default true). */
  decode?: boolean;
  /** What the wasm products keep packed (@var/core's WasmWeightPacking): every linear weight ('cached', default) or one at a time ('per-call'). */
  weightPacking?: WasmWeightPacking;
}

export function estimateGenerationBytes(s: GenerationShape, batch: number, opts: GenerationMemoryOptions = {}): GenerationMemoryEstimate {
  const F = 4; // float32
  const C = s.embedDim,
    H = s.numHeads,
    V = s.vocabSize,
    D = s.depth;
  const hidden = Math.round(C * s.mlpRatio);
  const L = s.patchNums.reduce((a, p) => a + p * p, 0);
  const l = s.patchNums[s.patchNums.length - 1] ** 2; // tokens of the last (largest) scale
  const G = 2; // conditional + unconditional sequence per image
  // per block: qkv (3C), ada-LN (6C), attention proj (C), fc1 (hidden), fc2 (C)
  const blockLinear = (3 * C * C + 6 * C * C + C * C + 2 * C * hidden) * F;
  const linear = D * blockLinear + (2 * C * C + C * V) * F; // + head_nm ada-LN and head
  // XNNPACK's packed copies, made as each block first runs; per call: the largest weight's only
  const largestLinear = Math.max(6 * C * C, C * hidden, C * V) * F;
  const transformerFixedBytes = opts.weightPacking === 'per-call' ? largestLinear : linear;
  const kv = D * 2 * G * L * C * F;
  // one block at the last scale: LN/modulated inputs, q/k/v (+ normalised), attention output,
  // residuals (≈ 14 C per token), the FFN (3 · hidden), and the scores / softmax (3 · H · L per token)
  const block = G * l * (14 * C + 3 * hidden) * F + G * H * l * L * 3 * F;
  const logits = G * l * V * 4 * F; // logits, guided, filtered, probabilities
  // × 2.25: the tensors counted above are not all: concatenated KV caches exist twice for a moment,
  // reshapes and head splits copy on wasm. Calibrated on tf.profile peaks (mid: 87 MiB at batch 1,
  // +24 MiB per image; d16 at 256 px: 640 MiB at batch 1), an upper bound for both (memory.test.ts).
  const transformerPerImageBytes = 2.25 * (kv + block + logits + G * l * C * F);
  let decoderPerImageBytes = 0;
  if (opts.decode !== false && s.ch && s.chMult?.length) {
    const n = s.chMult.length;
    let largest = 0;
    for (let i = 0; i < n; i++) {
      const side = s.imageSize / 2 ** i;
      largest = Math.max(largest, s.ch * s.chMult[i] * side * side);
      // the upsampled input of level i comes in with level i+1's width
      if (i + 1 < n) largest = Math.max(largest, s.ch * s.chMult[i + 1] * side * side);
    }
    const P = s.patchNums[s.patchNums.length - 1];
    // the decoder keeps ~16 activations of its largest level alive at its peak (measured: 64 MiB per
    // 128 px image at ch 64 = 16 × 4 MiB; d16's VQVAE: 671 MiB at 256 px = 16 × 42 MiB); 17 for margin
    decoderPerImageBytes = 17 * largest * F + P * P * P * P * F; // + the mid attention map
  }
  const bytes = Math.max(transformerFixedBytes + batch * transformerPerImageBytes, batch * decoderPerImageBytes);
  return { batch, bytes, transformerFixedBytes, transformerPerImageBytes, decoderPerImageBytes };
}

/** Bytes the current backend can still give: wasm's heap minus what its tensors hold; cpu: free system memory (Node). */
export async function availableBytes(env: Record<string, string | undefined> = (globalThis as any).process?.env ?? {}): Promise<number> {
  const forced = Number(env.VAR_MEMORY_BUDGET_BYTES);
  if (Number.isFinite(forced) && forced > 0) return forced;
  const backend = tf.getBackend();
  if (backend === 'wasm') return Math.max(0, WASM_HEAP_MAX_BYTES - tf.memory().numBytes - WASM_HEADROOM_BYTES);
  const p = (globalThis as any).process;
  if ((backend === 'cpu' || backend === 'tensorflow') && typeof p?.versions?.node === 'string') {
    const os = await import(/* @vite-ignore */ 'node:' + 'os');
    return os.freemem();
  }
  return Infinity; // webgpu / browsers: no reliable figure; the backend reports its own failures
}

/** The largest batch whose estimate fits `budget` bytes (0 when not even one image fits). */
export function largestBatchThatFits(s: GenerationShape, budget: number, opts: GenerationMemoryOptions = {}): number {
  if (!Number.isFinite(budget)) return Number.MAX_SAFE_INTEGER;
  let lo = 0,
    hi = 1;
  while (estimateGenerationBytes(s, hi, opts).bytes <= budget && hi < 1 << 20) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (estimateGenerationBytes(s, mid, opts).bytes <= budget) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** How a generation will run, decided before anything is allocated. */
export interface GenerationPlan {
  /** On wasm: whether the linear weights stay packed ('cached') or are packed per product ('per-call'); 'cached' elsewhere. */
  weightPacking: WasmWeightPacking;
  /** The estimate the plan was made with. */
  estimate: GenerationMemoryEstimate | null;
}

/**
 * Plan a generation of `batch` images on the current backend, or throw {@link OutOfMemoryError}
 * when it would need more memory than the backend has (estimate before any allocation); the
 * message names the largest batch that fits. On wasm, when the batch fits only without a packed
 * copy of every linear weight (d20 and larger, or large batches), the plan says 'per-call'
 * (slower: each product packs its weight again; see @var/core's wasm-packing). Silent
 * ('cached', no estimate) when the models do not state their sizes or the backend gives no figure.
 */
export async function assertBatchFits(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  batch: number,
  opts: { decode?: boolean } = {},
): Promise<GenerationPlan> {
  const s = generationShape(vae, model);
  if (!s) return { weightPacking: 'cached', estimate: null };
  const backend = tf.getBackend();
  if (backend === 'webgpu') assertWebGPULimits(s, batch, webgpuDeviceLimits(), opts);
  const budget = await availableBytes();
  // Packed copies already held are outside tf.memory(): they are taken to be (part of) this model's.
  const held = backend === 'wasm' ? wasmPackedWeightBytes() : 0;
  const est = estimateGenerationBytes(s, batch, opts);
  if (est.bytes - Math.min(held, est.transformerFixedBytes) <= budget - held) return { weightPacking: 'cached', estimate: est };
  if (backend === 'wasm') {
    const perCall = estimateGenerationBytes(s, batch, { ...opts, weightPacking: 'per-call' });
    if (perCall.bytes <= budget) return { weightPacking: 'per-call', estimate: perCall };
  }
  const packing: GenerationMemoryOptions = backend === 'wasm' ? { ...opts, weightPacking: 'per-call' } : opts;
  const largest = largestBatchThatFits(s, budget, packing);
  const what =
    largest > 0
      ? `the largest batch that fits is ${largest}: generate in batches of at most ${largest} (the CLI's --batch ${largest})`
      : `not even one image fits; use a backend with more memory (${backend === 'wasm' ? 'wasm addresses at most 4 GiB: webgpu keeps the weights in GPU memory; cpu or tensorflow use system memory' : 'free memory or a smaller model'})`;
  const need = backend === 'wasm' ? estimateGenerationBytes(s, batch, packing).bytes : est.bytes;
  throw new OutOfMemoryError(
    `a batch of ${batch} image(s) at ${s.imageSize} px (depth ${s.depth}, ${s.patchNums.length} scales, cfg doubles the batch) needs about ${formatBytes(need)} on ${backend}` +
      `${backend === 'wasm' ? ' even with one weight packed at a time' : ''}, ` +
      `but about ${formatBytes(budget)} is available${backend === 'wasm' ? ` (wasm heap 4 GiB, ${formatBytes(tf.memory().numBytes)} held by tensors)` : ''}; ${what}`,
    { neededBytes: need, availableBytes: budget, largestBatch: largest },
  );
}

/**
 * Switch to the plan's weight packing; returns the function that switches back. For
 * 'per-call', the packed copies held now are freed first; 'cached' comes back when the
 * generation ends (the next one plans again).
 */
export function enterWeightPacking(plan: GenerationPlan): () => void {
  if (plan.weightPacking !== 'per-call') return () => undefined;
  releaseWasmPackedWeights();
  const prev = setWasmWeightPacking('per-call');
  return () => {
    setWasmWeightPacking(prev);
  };
}

/** The limits of a WebGPU device that bound one generation's buffers. */
export interface WebGPUBufferLimits {
  /** Bytes one storage-buffer binding may span (`maxStorageBufferBindingSize`). */
  maxStorageBufferBindingSize: number;
  /** Bytes one buffer may have (`maxBufferSize`). */
  maxBufferSize: number;
  /** The adapter, for messages. */
  adapter?: string;
}

/** The limits of the active webgpu backend's device, or null where they cannot be read. */
export function webgpuDeviceLimits(): WebGPUBufferLimits | null {
  const dev = (tf.backend() as unknown as { device?: { limits?: Record<string, number>; adapterInfo?: Record<string, string> } }).device;
  const l = dev?.limits;
  if (!l || typeof l.maxStorageBufferBindingSize !== 'number') return null;
  const a = dev?.adapterInfo;
  const adapter = a ? [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ') : undefined;
  return {
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxBufferSize: l.maxBufferSize ?? l.maxStorageBufferBindingSize,
    ...(adapter ? { adapter } : {}),
  };
}

/**
 * The largest single tensor of generating `batch` images with guidance, and what it is: on
 * WebGPU each tensor is one buffer, bound whole by the kernels. Attention runs per head, so its
 * scores stay small; the largest are the decoder's widest activation (per image), the logits of
 * the last scale and the KV cache of a block (per image, two sequences each), and the largest
 * weight matrix.
 */
export function largestTensorBytes(s: GenerationShape, batch: number, opts: { decode?: boolean } = {}): { bytes: number; what: string } {
  const F = 4;
  const C = s.embedDim;
  const hidden = Math.round(C * s.mlpRatio);
  const L = s.patchNums.reduce((a, p) => a + p * p, 0);
  const l = s.patchNums[s.patchNums.length - 1] ** 2;
  const cands: { bytes: number; what: string }[] = [
    { bytes: Math.max(C * s.vocabSize, C * hidden, 6 * C * C) * F, what: 'the largest weight matrix' },
    { bytes: 2 * batch * l * s.vocabSize * F, what: "the last scale's logits (cfg doubles the batch)" },
    { bytes: 2 * batch * L * C * F, what: "a block's KV cache (cfg doubles the batch)" },
  ];
  if (opts.decode !== false && s.ch && s.chMult?.length) {
    let widest = 0;
    for (let i = 0; i < s.chMult.length; i++) {
      const side = s.imageSize / 2 ** i;
      widest = Math.max(widest, s.ch * s.chMult[i] * side * side, i + 1 < s.chMult.length ? s.ch * s.chMult[i + 1] * side * side : 0);
    }
    cands.push({ bytes: batch * widest * F, what: "the decoder's widest activation" });
  }
  return cands.reduce((a, b) => (b.bytes > a.bytes ? b : a));
}

/**
 * Throw {@link OutOfMemoryError} when one of the generation's tensors would exceed what the
 * WebGPU device can bind (`maxStorageBufferBindingSize`, `maxBufferSize`; @var/core requests
 * the adapter's maxima), naming the largest batch that fits — instead of a device error or
 * garbage output half-way. Silent without limits.
 */
export function assertWebGPULimits(
  s: GenerationShape,
  batch: number,
  limits: WebGPUBufferLimits | null,
  opts: { decode?: boolean } = {},
): void {
  if (!limits) return;
  const cap = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const need = largestTensorBytes(s, batch, opts);
  if (need.bytes <= cap) return;
  let largest = 0;
  while (largest < batch && largestTensorBytes(s, largest + 1, opts).bytes <= cap) largest++;
  const on = limits.adapter ? `this WebGPU adapter (${limits.adapter})` : 'this WebGPU device';
  const what =
    largest > 0
      ? `the largest batch that fits is ${largest}: generate in batches of at most ${largest}`
      : 'not even one image fits: use the wasm backend, or a GPU whose adapter allows larger buffers';
  throw new OutOfMemoryError(
    `a batch of ${batch} image(s) at ${s.imageSize} px needs one buffer of ${formatBytes(need.bytes)} (${need.what}), but ${on} binds at most ${formatBytes(cap)} ` +
      `(maxStorageBufferBindingSize ${formatBytes(limits.maxStorageBufferBindingSize)}, maxBufferSize ${formatBytes(limits.maxBufferSize)}); ${what}`,
    { neededBytes: need.bytes, availableBytes: cap, largestBatch: largest },
  );
}
