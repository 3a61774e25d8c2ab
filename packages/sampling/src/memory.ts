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
 *   time — plus per image of the batch (×2 sequences for classifier-free guidance) the KV cache
 *   of all L tokens and the last scale's logits, and per image of the chunk that runs (the
 *   batch, or a chunk of it when the whole batch does not fit) the activations of one block at
 *   the last scale (every block runs in its own tidy) and the head's logits;
 * - decoder phase (the session is freed first): the activations of the largest decoder level,
 *   per image decoded together.
 * The terms carry factors calibrated on measured `tf.profile` peaks; memory.test.ts checks that
 * the estimate stays above the measured peak and within 1.6× of it, chunked or not.
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
  /** Residual blocks per decoder level, less one (the official `num_res_blocks`, default 2). */
  numResBlocks?: number;
  /** Image side in pixels (latent side × downsample). */
  imageSize: number;
}

/** The estimate of one batch. */
export interface GenerationMemoryEstimate {
  batch: number;
  /** Peak bytes over both phases: the larger of `transformerBytes` and `decoderBytes`. */
  bytes: number;
  /** Images per transformer chunk and per decoder chunk the estimate is for (the batch = no chunking). */
  chunk: number;
  decodeChunk: number;
  /** Transformer phase: fixed + batch × per image + chunk × per chunk image. */
  transformerBytes: number;
  /** Decoder phase: both fixed terms + decodeChunk × per image (+ the decoded images of the batch when chunked). */
  decoderBytes: number;
  /** Transformer phase: fixed (the packed copies of the linear weights, or the largest one with 'per-call' packing). */
  transformerFixedBytes: number;
  /** Transformer phase, per image of the batch: its KV caches and its share of the reassembled last-scale logits. */
  transformerPerImageBytes: number;
  /** Transformer phase, per image of the chunk that runs: one block's activations at the last scale and the head's logits. */
  transformerChunkPerImageBytes: number;
  /** Decoder phase, fixed: XNNPACK's packed copy of every decoder convolution's weights (0 without decoding). */
  decoderFixedBytes: number;
  /** Decoder phase, per image decoded together (0 without decoding). */
  decoderPerImageBytes: number;
}

/**
 * Calibration factors on the counted tensors (memory.test.ts measures the `tf.profile` peaks they
 * bound): the KV cache is counted exactly (the factor covers the concatenation of a block's
 * cache with the new keys that does not free the old one at once); the last scale's logits are
 * alive as the chunks' outputs, the reassembled batch, and the guided combination with its
 * slices; a block's activations are not all counted (reshapes and head splits copy on wasm).
 * Measured transformer peaks (decode: false, wasm) against the estimate without the packed
 * copies: mid batch 1: 24.1 MiB (24.5), batch 4 in chunks of 1: 39.6 MiB (42.6), batch 8 in
 * chunks of 1: 60.1 MiB (66.7); d16 at 256 px batch 1: 399 MiB (568), batch 2: 794 MiB (1136),
 * batch 2 in chunks of 1: 580 MiB (787).
 */
const KV_FACTOR = 1.1;
const BATCH_LOGITS_FACTOR = 4;
const CHUNK_FACTOR = 2.25;

/** The sizes of a sampler pair, or null when they do not say (structural models without configs). */
export function generationShape(vae: SamplerVQVAE, model: SamplerVAR): GenerationShape | null {
  const c = model.config as Partial<{ depth: number; embedDim: number; numHeads: number; mlpRatio: number }> & SamplerVAR['config'];
  if (![c.depth, c.embedDim, c.numHeads].every((v) => typeof v === 'number' && v > 0)) return null;
  const vc = (vae as { config?: { ch?: number; chMult?: number[]; numResBlocks?: number } }).config ?? {};
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
    numResBlocks: vc.numResBlocks,
    imageSize: P * (vae.downsample || 16),
  };
}

/** Estimated peak bytes of generating `batch` images with classifier-free guidance (2 sequences each). */
export interface GenerationMemoryOptions {
  /** Count the decoder phase (default true). */
  decode?: boolean;
  /** What the wasm products keep packed (@var/core's WasmWeightPacking): every linear weight ('cached', default) or one at a time ('per-call'). */
  weightPacking?: WasmWeightPacking;
  /** Images whose sequences run through the transformer together (default: the whole batch); the others wait with their KV caches. */
  chunk?: number;
  /** Images decoded together (default: the whole batch). */
  decodeChunk?: number;
}

/** Clamp a chunk option to [1, batch] (absent: the batch). */
function chunkOf(c: number | undefined, batch: number): number {
  return Math.max(1, Math.min(batch, c === undefined ? batch : Math.floor(c)));
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
  const chunk = chunkOf(opts.chunk, batch);
  const decodeChunk = chunkOf(opts.decodeChunk, batch);
  // per block: qkv (3C), ada-LN (6C), attention proj (C), fc1 (hidden), fc2 (C)
  const blockLinear = (3 * C * C + 6 * C * C + C * C + 2 * C * hidden) * F;
  const linear = D * blockLinear + (2 * C * C + C * V) * F; // + head_nm ada-LN and head
  // XNNPACK's packed copies, made as each block first runs; per call: the largest weight's only
  const largestLinear = Math.max(6 * C * C, C * hidden, C * V) * F;
  const transformerFixedBytes = opts.weightPacking === 'per-call' ? largestLinear : linear;
  // Every image of the batch: its KV caches (all L tokens, every block, both sequences), alive from
  // the scale they are written to the end, and the last scale's logits once the chunks are put
  // back together (chunk outputs, the reassembled batch, the guided combination).
  const kv = D * 2 * G * L * C * F;
  const logits = G * l * V * F;
  const transformerPerImageBytes = KV_FACTOR * kv + BATCH_LOGITS_FACTOR * logits;
  // Every image of the chunk that runs: one block at the last scale (LN/modulated inputs, q/k/v
  // (+ normalised), attention output, residuals ≈ 14 C per token, the FFN (3 · hidden), the scores /
  // softmax (3 · H · L per token), a block's KV cache concatenated with the new keys (it exists twice
  // for a moment), and the head's activations and logits.
  const block = G * l * (14 * C + 3 * hidden) * F + G * H * l * L * 3 * F + 2 * (kv / D) + G * l * C * F;
  const transformerChunkPerImageBytes = CHUNK_FACTOR * (block + 2 * logits);
  let decoderPerImageBytes = 0;
  let decoderFixedBytes = 0;
  if (opts.decode !== false && s.ch && s.chMult?.length) {
    const n = s.chMult.length;
    // tfjs-backend-wasm's convolutions keep an XNNPACK operator (with a packed copy of the filter)
    // per filter tensor while it lives: after the first decode, a second copy of the decoder's
    // convolution weights (an upper bound: every block's convolutions at max(in, out) width)
    const res = (s.numResBlocks ?? 2) + 1;
    const top = s.ch * s.chMult[n - 1];
    let convs = 2 * 2 * 9 * top * top + 4 * top * top; // middle: two residual blocks and the attention's 1×1s
    for (let i = n - 1; i >= 0; i--) {
      const w = Math.max(s.ch * s.chMult[i], s.ch * s.chMult[Math.min(n - 1, i + 1)]);
      convs += res * (2 * 9 * w * w + w * w) + (i > 0 ? 9 * w * w : 0); // blocks (+ shortcut), upsampling conv
    }
    decoderFixedBytes = convs * F;
    let largest = 0;
    for (let i = 0; i < n; i++) {
      const side = s.imageSize / 2 ** i;
      largest = Math.max(largest, s.ch * s.chMult[i] * side * side);
      // the upsampled input of level i comes in with level i+1's width
      if (i + 1 < n) largest = Math.max(largest, s.ch * s.chMult[i + 1] * side * side);
    }
    const P = s.patchNums[s.patchNums.length - 1];
    // the decoder keeps ~16 activations of its largest level alive at its peak (measured: 64 MiB per
    // 128 px image at ch 64 = 16 × 4 MiB; d16's VQVAE: tf.profile 640 MiB per 256 px image = 16 × 40 MiB),
    // and the wasm heap grows by more: 720–760 MiB per d16 image (3 images: 3184 MiB of heap for
    // 416 MiB of weights), the convolutions' buffers outside the tensors; 19 × 40 MiB = 760 MiB
    decoderPerImageBytes = 19 * largest * F + P * P * P * P * F; // + the mid attention map
  }
  const transformerBytes = transformerFixedBytes + batch * transformerPerImageBytes + chunk * transformerChunkPerImageBytes;
  const decoderBytes =
    decoderPerImageBytes > 0
      ? // the transformer's packed copies live on with its weights ('cached'): they are there when decoding too
        transformerFixedBytes +
        decoderFixedBytes +
        decodeChunk * decoderPerImageBytes +
        (decodeChunk < batch ? batch * 3 * s.imageSize * s.imageSize * F : 0)
      : 0;
  return {
    batch,
    bytes: Math.max(transformerBytes, decoderBytes),
    chunk,
    decodeChunk,
    transformerBytes,
    decoderBytes,
    transformerFixedBytes,
    transformerPerImageBytes,
    transformerChunkPerImageBytes,
    decoderFixedBytes,
    decoderPerImageBytes,
  };
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
  /** Images whose 2 (CFG) sequences run through the transformer together; the batch = no chunking. */
  chunk: number;
  /** Images the decoder decodes together; the batch = no chunking. */
  decodeChunk: number;
  /** The estimate the plan was made with. */
  estimate: GenerationMemoryEstimate | null;
}

/** How {@link assertBatchFits} chooses the chunks: 'auto' (the largest that fit, the batch when it fits) or a number of images. */
export type GenerationChunk = 'auto' | number;

/**
 * Plan a generation of `batch` images on the current backend, or throw {@link OutOfMemoryError}
 * when it would need more memory than the backend has (estimate before any allocation); the
 * message names the largest batch that fits. In order of preference: the whole batch at once
 * with every weight packed (as far as it fits, the plan of every small model and batch); on
 * wasm, the whole batch with one weight packed at a time ('per-call', slower: each product
 * packs its weight again; see @var/core's wasm-packing; d20 and larger); then the batch run
 * through the transformer in chunks of images (each chunk its own KV-cached session; the
 * caches of the whole batch stay alive): the largest chunk that fits, 'cached' before
 * 'per-call' for each size. The decoder independently decodes the largest chunk of images that fits. The
 * error comes only when even chunks of one image do not fit (then the KV caches of the batch
 * are the limit). With `chunk` a number, the transformer and the decoder run chunks of that
 * many images (the batch at most) and the error comes when that does not fit. Silent ('cached',
 * no chunking, no estimate) when the models do not state their sizes or the backend gives no figure.
 */
export async function assertBatchFits(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  batch: number,
  opts: { decode?: boolean; chunk?: GenerationChunk } = {},
): Promise<GenerationPlan> {
  const forced = typeof opts.chunk === 'number' ? chunkOf(opts.chunk, batch) : null;
  const s = generationShape(vae, model);
  if (!s) return { weightPacking: 'cached', chunk: forced ?? batch, decodeChunk: forced ?? batch, estimate: null };
  const backend = tf.getBackend();
  if (backend === 'webgpu') assertWebGPULimits(s, forced ?? batch, webgpuDeviceLimits(), opts);
  const budget = await availableBytes();
  // Packed copies already held are outside tf.memory(): they are taken to be (part of) this model's.
  const held = backend === 'wasm' ? wasmPackedWeightBytes() : 0;
  const base = { decode: opts.decode };
  const fits = (bytes: number, e: GenerationMemoryEstimate, packing: WasmWeightPacking): boolean =>
    packing === 'cached' ? bytes - Math.min(held, e.transformerFixedBytes) <= budget - held : bytes <= budget;
  const packings: WasmWeightPacking[] = backend === 'wasm' ? ['cached', 'per-call'] : ['cached'];
  // the decoder's chunk: the largest that fits on its own (the session is freed before decoding), with the packing's copies
  const decodeChunkOf = (packing: WasmWeightPacking): number => {
    let dc = forced ?? batch;
    while (dc > 1 && forced === null) {
      const e = estimateGenerationBytes(s, batch, { ...base, weightPacking: packing, decodeChunk: dc });
      if (fits(e.decoderBytes, e, packing)) break;
      dc--;
    }
    return dc;
  };
  const decodeChunks = new Map(packings.map((p) => [p, decodeChunkOf(p)]));
  const plan = (packing: WasmWeightPacking, chunk: number): GenerationPlan | null => {
    const decodeChunk = decodeChunks.get(packing)!;
    const e = estimateGenerationBytes(s, batch, { ...base, weightPacking: packing, chunk, decodeChunk });
    return fits(e.transformerBytes, e, packing) && fits(e.decoderBytes, e, packing)
      ? { weightPacking: packing, chunk, decodeChunk, estimate: e }
      : null;
  };
  // the largest chunk that fits (the whole batch first), every weight packed before one at a time
  for (let c = forced ?? batch; c >= (forced ?? 1); c--) {
    for (const packing of packings) {
      const p = plan(packing, c);
      if (p) return p;
    }
  }
  const packing: WasmWeightPacking = backend === 'wasm' ? 'per-call' : 'cached';
  const tightest: GenerationMemoryOptions = { ...base, weightPacking: packing, chunk: forced ?? 1, decodeChunk: forced ?? 1 };
  const largest = largestBatchThatFits(s, budget, tightest);
  const inChunks = forced !== null ? `in chunks of ${forced}` : 'in chunks of one image';
  const what =
    largest > 0
      ? `the largest batch that fits is ${largest}: generate in batches of at most ${largest} (the CLI's --batch ${largest})`
      : `not even one image fits; use a backend with more memory (${backend === 'wasm' ? 'wasm addresses at most 4 GiB: webgpu keeps the weights in GPU memory; cpu or tensorflow use system memory' : 'free memory or a smaller model'})`;
  const need = estimateGenerationBytes(s, batch, tightest).bytes;
  throw new OutOfMemoryError(
    `a batch of ${batch} image(s) at ${s.imageSize} px (depth ${s.depth}, ${s.patchNums.length} scales, cfg doubles the batch) needs about ${formatBytes(need)} on ${backend} ` +
      `${inChunks}${backend === 'wasm' ? ' with one weight packed at a time' : ''} (the KV caches of the whole batch stay alive), ` +
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
