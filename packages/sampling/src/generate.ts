/**
 * Class-conditional generation with VAR, scale by scale (next-scale prediction), as the
 * official `VAR.autoregressive_infer_cfg` (FoundationVision/VAR, models/var.py), and the
 * zero-shot editing variant of `demo_zero_shot_edit.ipynb`
 * (`autoregressive_infer_cfg_with_mask`).
 *
 * Per scale si (pn × pn tokens):
 *  1. the transformer's KV-cached session gives logits for the conditional half (the labels)
 *     and the unconditional half (class `numClasses`);
 *  2. classifier-free guidance: `t = cfg · si/(S-1)`, `logits = (1+t)·cond − t·uncond`;
 *  3. the logits are downloaded and filtered (top-k, then top-p) and one token per position is
 *     drawn on the CPU in float64 from the seeded RNG (identical on every backend);
 *  4. the token embeddings (or, with `moreSmooth`, the Gumbel-softmax mixture of codebook
 *     vectors) update `f_hat += phi(upsample(h))`, and the area-downsampled `f_hat` is the
 *     next scale's input.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ConfigError, Rng, ShapeError, ValueError, throwIfAborted } from '@var/core';
import { checkFilterOptions, gumbelSoftmax, sampleTokens, smoothTemperature, type RandomSource } from './filter.js';
import { editMaskData, maskFromArray, normalizeMask, scaleKeepMasks, type ImageLikeMask } from './mask.js';
import { isRasterPair } from './raster.js';
import type { SamplerSession, SamplerVAR, SamplerVQVAE } from './types.js';

/** Options shared by {@link generate} and {@link edit}. */
export interface SampleOptions {
  /**
   * Class label(s): one integer per image, or one integer for the whole batch (with
   * `count`). Class `numClasses` is the unconditional ("null") class.
   */
  labels: number | ArrayLike<number>;
  /** Batch size when `labels` is a single number (default 1; ignored otherwise). */
  count?: number;
  /** Classifier-free guidance strength (>= 0, default 1.5); ramped as cfg·si/(S−1) (see `cfgSchedule`). 0 = no guidance. */
  cfg?: number;
  /**
   * How the guidance strength varies over the steps: `linear` (the official VAR ramp
   * t = cfg·si/(S−1)) or `constant` (t = cfg at every step, as raster-order models use).
   * Default `linear` for next-scale models, `constant` for raster-order ones.
   */
  cfgSchedule?: 'linear' | 'constant';
  /** Top-k filter (0 = off, default 0; ties at the k-th value are kept). */
  topK?: number;
  /** Top-p (nucleus) filter (<= 0 or >= 1 = off, default 0). */
  topP?: number;
  /** Seed of the RNG (`new Rng(seed)` from @var/core). Ignored when `rng` is given. */
  seed?: number;
  /** A random source to draw from (e.g. an `Rng` you keep using across calls). */
  rng?: RandomSource;
  /** The official "more smooth" preview: Gumbel-softmax mixture of codebook vectors (not for benchmarks). */
  moreSmooth?: boolean;
  /** Stop generation: the call rejects with `AbortError` and frees every tensor. */
  signal?: AbortSignal;
  /** Decode a preview image after every scale (costs one decoder pass per scale). */
  previews?: boolean;
  /** Also return the per-scale logits after CFG (before filtering), float32. */
  returnLogits?: boolean;
  /** Decode the final image (default true). false: tokens and f_hat only, `images` is null. */
  decode?: boolean;
  /**
   * Use the transformer's KV cache (default true). false recomputes every earlier scale with a
   * teacher-forced `forward` at each step (slower; for checks and benchmarks).
   */
  kvCache?: boolean;
  /**
   * Timing hook (benchmarks, profiling): called after each phase with its wall time. Phases:
   * `transformer` (the transformer step of scale `si`, including the CFG batch; scale 0's also
   * counts starting the session, i.e. the AdaLN conditions and KV cache set-up), `sampling`
   * (CFG combination, logits download, top-k/top-p on the CPU, f_hat update and the next
   * scale's input) and `decode` (the VQVAE decoder on the final f_hat, `si` null; not with
   * `decode: false`). When set, generation waits for the backend at every phase boundary (one
   * read of the phase's output) so the times are those of the work, not of queuing it; that
   * adds small reads on GPU backends and changes no result. Called synchronously.
   */
  onPhase?: (timing: PhaseTiming) => void;
}

/** One phase's wall time, given to {@link SampleOptions.onPhase}. */
export interface PhaseTiming {
  phase: 'transformer' | 'sampling' | 'decode';
  /** Scale index of `transformer` / `sampling`; null for `decode`. */
  si: number | null;
  /** Milliseconds (performance.now()). */
  ms: number;
}

/** One scale's output, streamed as soon as it is ready. */
export interface ScaleEvent {
  /** Scale index (0-based) and its side length. */
  si: number;
  pn: number;
  /** Number of scales. */
  scales: number;
  /** Tokens of this scale, (B, pn·pn) row-major (for edits: after forcing the input's tokens). */
  tokens: Int32Array;
  /** Edits only: the tokens the model sampled before forcing. */
  sampled?: Int32Array;
  /** Edits only: 1 where the input's token was forced, (B, pn·pn). */
  keep?: Uint8Array;
  /** With `returnLogits`: logits after CFG, (B, pn·pn, V). */
  logits?: Float32Array;
  /**
   * With `previews`: the image decoded from the current f_hat, (B, 3, H, W) in [0, 1]. Owned by
   * the generator: valid until the callback returns / the iterator is advanced (clone to keep).
   */
  preview?: tf.Tensor4D;
}

/** The result of a generation. The caller disposes `images` and `fHat`. */
export interface GenerateResult {
  /** (B, 3, H, W) in [0, 1]; null with `decode: false`. */
  images: tf.Tensor4D | null;
  /** Final f_hat, (B, Cvae, h, w). */
  fHat: tf.Tensor4D;
  /** Tokens of every scale, (B, pn·pn) row-major each. */
  tokens: Int32Array[];
  /** The labels used, (B). */
  labels: Int32Array;
  /** With `returnLogits`: per-scale logits after CFG, (B, pn·pn, V). */
  logits?: Float32Array[];
  /** Edits only: per-scale sampled tokens before forcing. */
  sampled?: Int32Array[];
  /** Edits only: per-scale keep masks (1 = input token forced). */
  keep?: Uint8Array[];
  /** Edits only: the input's tokens per scale, (B, pn·pn) each. */
  inputTokens?: Int32Array[];
}

/** {@link generate} options plus a per-scale callback. */
export interface GenerateOptions extends SampleOptions {
  /** Called after every scale; awaited, so it can render before the next scale starts. */
  onScale?: (event: ScaleEvent) => void | Promise<void>;
}

/** A rectangle edit region (fractions of the image), as the official `get_edit_mask`. */
export interface EditRect {
  y0: number;
  x0: number;
  y1: number;
  x1: number;
  /** true (default): generate inside the rectangle (in-painting); false: generate outside (out-painting). */
  inpainting?: boolean;
}

/** Options of {@link edit} / {@link editStream}. */
export interface EditOptions extends GenerateOptions {
  /** The image to edit, (B or 1, C, H, W) in [-1, 1] with the tokenizer's C (1 or 3); tokenised with the VQVAE. */
  image?: tf.Tensor4D;
  /** Or its tokens per scale, (B or 1, pn·pn) each (Int32Array or int32 Tensor2D). */
  inputTokens?: Array<Int32Array | tf.Tensor2D>;
  /**
   * Where to keep the input (1 = keep the input's token, 0 = generate): a rectangle (see
   * {@link EditRect}); a mask tensor (H, W), (1, 1, H, W) or (B, 1, H, W) in [0, 1]; an array of
   * rows in [0, 1]; or an image `{ width, height, data }` (e.g. `ImageData`; first channel / 255).
   */
  mask: EditRect | tf.Tensor | number[][] | ImageLikeMask;
}

interface ResolvedEdit {
  keep: Uint8Array[];
  gt: Int32Array[];
}

interface Resolved {
  B: number;
  labels: Int32Array;
  cfg: number;
  cfgSchedule: 'linear' | 'constant';
  topK: number;
  topP: number;
  rng: RandomSource;
  moreSmooth: boolean;
  signal?: AbortSignal;
  previews: boolean;
  returnLogits: boolean;
  decode: boolean;
  kvCache: boolean;
  onPhase?: (timing: PhaseTiming) => void;
}

function checkModels(vae: SamplerVQVAE, model: SamplerVAR): void {
  const c = model?.config;
  const q = vae?.quantizer;
  if (!c || !q) throw new ValueError('generate needs a VQVAE (with .quantizer) and a VAR (with .config)');
  const bad: string[] = [];
  const pq = q.vPatchNums, pv = c.patchNums;
  if (!isRasterPair(q, model) && (pq.length !== pv.length || pq.some((p, i) => p !== pv[i]))) {
    bad.push(`patch numbers (${pq.join(', ')}) vs (${pv.length > 12 ? `${pv.length} scales` : pv.join(', ')})`);
  }
  if (q.vocabSize !== c.vocabSize) bad.push(`vocabulary ${q.vocabSize} vs ${c.vocabSize}`);
  if (q.Cvae !== c.Cvae) bad.push(`Cvae ${q.Cvae} vs ${c.Cvae}`);
  if (bad.length) {
    throw new ConfigError(`the VQVAE and the VAR do not belong together (VQVAE vs VAR): ${bad.join('; ')}; load the tokenizer the transformer was trained with`);
  }
}

/** Validate the labels: integers in [0, numClasses] (numClasses = unconditional). */
export function resolveLabels(labels: number | ArrayLike<number>, count: number | undefined, numClasses: number): Int32Array {
  let arr: number[];
  if (typeof labels === 'number') {
    const n = count ?? 1;
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
      throw new ValueError(`count must be a positive integer; got ${String(count)}`);
    }
    arr = new Array(n).fill(labels);
  } else if (labels != null && typeof labels === 'object' && typeof (labels as ArrayLike<number>).length === 'number') {
    arr = Array.from(labels as ArrayLike<number>);
    if (arr.length === 0) throw new ValueError('labels is empty: give at least one class label');
  } else {
    throw new ValueError(`labels must be a number or an array of numbers; got ${String(labels)}`);
  }
  arr.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > numClasses) {
      throw new ValueError(
        `label ${i} must be an integer in [0, ${numClasses}] (${numClasses} = unconditional); got ${String(v)}`,
      );
    }
  });
  return Int32Array.from(arr);
}

function checkOnPhase(f: unknown): Resolved['onPhase'] {
  if (f == null) return undefined;
  if (typeof f !== 'function') throw new ValueError(`onPhase must be a function; got ${typeof f}`);
  return f as Resolved['onPhase'];
}

function resolve(model: SamplerVAR, o: SampleOptions, raster = false): Resolved {
  if (o == null || typeof o !== 'object') throw new ValueError('options are required ({ labels, ... })');
  const cfgSchedule = o.cfgSchedule ?? (raster ? 'constant' : 'linear');
  if (cfgSchedule !== 'linear' && cfgSchedule !== 'constant') throw new ValueError(`cfgSchedule must be 'linear' or 'constant'; got ${String(o.cfgSchedule)}`);
  const labels = resolveLabels(o.labels, o.count, model.config.numClasses);
  const cfg = o.cfg ?? 1.5;
  if (typeof cfg !== 'number' || !Number.isFinite(cfg) || cfg < 0) {
    throw new ValueError(`cfg must be a finite number >= 0; got ${String(cfg)}`);
  }
  const { topK, topP } = checkFilterOptions({ topK: o.topK, topP: o.topP });
  let rng = o.rng;
  if (rng == null) {
    const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
    if (typeof seed !== 'number' || !Number.isInteger(seed)) throw new ValueError(`seed must be an integer; got ${String(seed)}`);
    rng = new Rng(seed);
  } else if (typeof rng.random !== 'function') {
    throw new ValueError('rng must have a random() method returning a uniform number in [0, 1)');
  }
  return {
    B: labels.length,
    labels,
    cfg,
    cfgSchedule,
    topK,
    topP,
    rng,
    moreSmooth: !!o.moreSmooth,
    signal: o.signal,
    previews: !!o.previews,
    returnLogits: !!o.returnLogits,
    decode: o.decode ?? true,
    kvCache: o.kvCache ?? true,
    onPhase: checkOnPhase(o.onPhase),
  };
}

/**
 * Codebook lookup (B, pn·pn) → (B, Cvae, pn, pn). Uses the codebook directly when the quantiser
 * exposes it (tokens here are in range by construction, so no validation read-back is needed;
 * that keeps the loop free of synchronous GPU reads, which stall WebGPU).
 */
function embedTokens(q: SamplerVQVAE['quantizer'], tokens: Int32Array, B: number, pn: number): tf.Tensor4D {
  const idx = tf.tensor2d(tokens, [B, pn * pn], 'int32');
  if (!q.codebook) return q.embed(idx, pn);
  const rows = tf.gather(q.codebook, tf.reshape(idx, [-1])); // (B·pn·pn, Cvae)
  return tf.transpose(tf.reshape(rows, [B, pn, pn, q.Cvae]), [0, 3, 1, 2]) as tf.Tensor4D;
}

/**
 * A session without KV cache: step si runs the teacher-forced `forward` over scales 0..si with
 * the inputs collected so far and returns the logits of scale si.
 */
class UncachedSession implements SamplerSession {
  private xs: tf.Tensor3D[] = [];
  private readonly begin: number[] = [];
  constructor(private readonly model: SamplerVAR, private readonly labels: Int32Array) {
    if (typeof model.forward !== 'function') throw new ValueError('kvCache: false needs a VAR with forward(labels, x, { progSi })');
    let cur = 0;
    for (const pn of model.config.patchNums) {
      this.begin.push(cur);
      cur += pn * pn;
    }
  }
  step(si: number, x: tf.Tensor3D | null): tf.Tensor3D {
    if (x) this.xs.push(tf.keep(tf.clone(x)));
    const { patchNums, Cvae, vocabSize: V } = this.model.config;
    const B = this.labels.length;
    const l = patchNums[si] ** 2;
    return tf.tidy(() => {
      const xin = this.xs.length ? (tf.concat(this.xs, 1) as tf.Tensor3D) : (tf.zeros([B, 0, Cvae]) as tf.Tensor3D);
      const logits = this.model.forward!(this.labels, xin, { progSi: si });
      return tf.slice(logits, [0, this.begin[si], 0], [B, l, V]) as tf.Tensor3D;
    });
  }
  dispose(): void {
    tf.dispose(this.xs);
    this.xs = [];
  }
}

/** Resolves on the next macrotask so an abort from a timer or UI event can land between scales. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

function codebookOf(vae: SamplerVQVAE): tf.Tensor2D {
  const cb = vae.quantizer.codebook ?? vae.trainableVariables?.().get('quantize.embedding.weight');
  if (!cb) throw new ValueError('moreSmooth needs the VQVAE codebook (quantize.embedding.weight)');
  return cb as unknown as tf.Tensor2D;
}

async function* runScales(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  r: Resolved,
  editing: ResolvedEdit | null,
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  const { B, cfg, rng } = r;
  const { patchNums, numClasses, vocabSize: V, Cvae } = model.config;
  const S = patchNums.length;
  const q = vae.quantizer;
  const guided = cfg > 0; // with cfg = 0 every t is 0: the unconditional half is not needed
  const sessionLabels = new Int32Array(guided ? 2 * B : B);
  sessionLabels.set(r.labels);
  if (guided) sessionLabels.fill(numClasses, B);
  const raster = isRasterPair(q, model);
  if (raster && (editing || r.moreSmooth || r.previews || !r.kvCache)) {
    throw new ConfigError('a raster-order model supports plain generation only (no edits, moreSmooth, previews or kvCache: false)');
  }
  const codebook = r.moreSmooth || raster ? codebookOf(vae) : null;
  const gridTokens: Int32Array | null = raster ? new Int32Array(B * S) : null; // raster: (B, g²) row-major

  const onPhase = r.onPhase;
  throwIfAborted(r.signal);
  const tSession = onPhase ? performance.now() : 0;
  const session = r.kvCache ? model.startInference(sessionLabels) : new UncachedSession(model, sessionLabels);
  let setupMs = onPhase ? performance.now() - tSession : 0; // counted into scale 0's transformer phase
  let fHat: tf.Tensor4D | null = null;
  let x: tf.Tensor3D | null = null;
  let logitsT: tf.Tensor | null = null;
  let preview: tf.Tensor4D | null = null;
  let done = false;
  const tokens: Int32Array[] = [];
  const sampledAll: Int32Array[] = [];
  const logitsAll: Float32Array[] = [];
  try {
    for (let si = 0; si < S; si++) {
      await yieldToEventLoop();
      throwIfAborted(r.signal);
      const pn = patchNums[si];
      const l = pn * pn;
      const ratio = S > 1 ? si / (S - 1) : 0;
      const t = r.cfgSchedule === 'constant' ? cfg : cfg * ratio;
      const tStep = onPhase ? performance.now() : 0;
      const out = session.step(si, x);
      if (x) x.dispose();
      x = null;
      logitsT = out;
      if (onPhase) {
        await out.data(); // wait for the backend: the phase ends when its output exists
        onPhase({ phase: 'transformer', si, ms: performance.now() - tStep + setupMs });
        setupMs = 0;
      }
      const tSample = onPhase ? performance.now() : 0;
      if (guided) {
        logitsT = tf.tidy(() => {
          const cond = tf.slice(out, [0, 0, 0], [B, l, V]);
          const uncond = tf.slice(out, [B, 0, 0], [B, l, V]);
          return tf.sub(tf.mul(cond, 1 + t), tf.mul(uncond, t));
        });
        out.dispose();
      }
      const logits = (await logitsT.data()) as Float32Array;
      logitsT.dispose();
      logitsT = null;
      throwIfAborted(r.signal);

      const { tokens: sampled, filtered } = sampleTokens(logits, V, rng, { topK: r.topK, topP: r.topP });
      if (raster && codebook && gridTokens) {
        // raster: the next input is the codebook vector of the token just drawn
        for (let b = 0; b < B; b++) gridTokens[b * S + si] = sampled[b];
        if (si + 1 < S) {
          x = tf.tidy(() => {
            const e = tf.reshape(tf.gather(codebook, tf.tensor1d(sampled, 'int32')), [B, 1, Cvae]) as tf.Tensor3D;
            return guided ? (tf.concat([e, e], 0) as tf.Tensor3D) : e;
          });
        } else {
          const g = q.vPatchNums[0];
          const h = tf.tidy(() => embedTokens(q, gridTokens, B, g));
          try {
            fHat = q.nextAutoregressiveInput(0, null, h).fHat;
          } finally {
            h.dispose();
          }
        }
        if (onPhase) {
          await (x ?? fHat!).data();
          onPhase({ phase: 'sampling', si, ms: performance.now() - tSample });
        }
        if (r.returnLogits) logitsAll.push(logits);
        const event: ScaleEvent = { si, pn, scales: S, tokens: sampled };
        if (r.returnLogits) event.logits = logits;
        yield event;
        continue;
      }
      let smooth: Float32Array | null = null;
      if (codebook) {
        const scaled = new Float64Array(filtered.length);
        for (let i = 0; i < scaled.length; i++) scaled[i] = filtered[i] * (1 + ratio);
        smooth = Float32Array.from(gumbelSoftmax(scaled, V, smoothTemperature(ratio), rng));
      }
      let effective = sampled;
      let keep: Uint8Array | undefined;
      if (editing) {
        keep = editing.keep[si];
        const gt = editing.gt[si];
        effective = new Int32Array(sampled.length);
        for (let i = 0; i < sampled.length; i++) effective[i] = keep[i] ? gt[i] : sampled[i];
      }
      const h = tf.tidy(() => {
        let hB: tf.Tensor4D;
        if (smooth && codebook) {
          const mix = tf.matMul(tf.tensor2d(smooth, [B * l, V]), codebook); // (B·l, Cvae)
          hB = tf.reshape(tf.transpose(tf.reshape(mix, [B, l, Cvae]), [0, 2, 1]), [B, Cvae, pn, pn]);
        } else {
          hB = embedTokens(q, sampled, B, pn);
        }
        if (editing && keep) {
          const gtH = embedTokens(q, editing.gt[si], B, pn);
          const k = tf.tensor4d(Float32Array.from(keep), [B, 1, pn, pn]);
          hB = tf.add(tf.mul(gtH, k), tf.mul(hB, tf.sub(1, k))) as tf.Tensor4D;
        }
        return hB;
      });
      let res: { fHat: tf.Tensor4D; next: tf.Tensor4D | null };
      try {
        res = q.nextAutoregressiveInput(si, fHat, h);
      } finally {
        h.dispose();
      }
      if (fHat && fHat !== res.fHat) fHat.dispose();
      fHat = res.fHat;
      if (res.next) {
        const next = res.next;
        x = tf.tidy(() => {
          const n = tf.transpose(tf.reshape(next, [B, Cvae, -1]), [0, 2, 1]) as tf.Tensor3D;
          return guided ? (tf.concat([n, n], 0) as tf.Tensor3D) : n;
        });
        next.dispose();
      }

      if (onPhase) {
        await (x ?? fHat).data();
        onPhase({ phase: 'sampling', si, ms: performance.now() - tSample });
      }

      tokens.push(effective);
      if (editing) sampledAll.push(sampled);
      if (r.returnLogits) logitsAll.push(logits);
      const event: ScaleEvent = { si, pn, scales: S, tokens: effective };
      if (editing) {
        event.sampled = sampled;
        event.keep = keep;
      }
      if (r.returnLogits) event.logits = logits;
      if (r.previews) {
        const f = fHat;
        preview = tf.tidy(() => tf.mul(tf.add(vae.fhatToImg(f), 1), 0.5) as tf.Tensor4D);
        event.preview = preview;
      }
      yield event;
      if (preview) preview.dispose();
      preview = null;
    }
    throwIfAborted(r.signal);
    // free the KV cache and the session's weight copies before decoding (a d16 holds ~1.2 GB there)
    session.dispose();
    const f = fHat!;
    const tDecode = onPhase ? performance.now() : 0;
    const images = r.decode ? tf.tidy(() => tf.mul(tf.add(vae.fhatToImg(f), 1), 0.5) as tf.Tensor4D) : null;
    if (onPhase && images) {
      try {
        await images.data();
        onPhase({ phase: 'decode', si: null, ms: performance.now() - tDecode });
      } catch (e) {
        images.dispose();
        throw e;
      }
    }
    done = true;
    // raster: `tokens` holds the tokenizer's single scale (B, g²); the per-step tokens went out as events
    const result: GenerateResult = { images, fHat: f, tokens: gridTokens ? [gridTokens] : tokens, labels: r.labels };
    if (r.returnLogits) result.logits = logitsAll;
    if (editing) {
      result.sampled = sampledAll;
      result.keep = editing.keep;
      result.inputTokens = editing.gt;
    }
    return result;
  } finally {
    session.dispose();
    if (x) x.dispose();
    if (logitsT) logitsT.dispose();
    if (preview) preview.dispose();
    if (!done && fHat) fHat.dispose();
  }
}

async function drive(
  gen: AsyncGenerator<ScaleEvent, GenerateResult, void>,
  onScale?: (e: ScaleEvent) => void | Promise<void>,
): Promise<GenerateResult> {
  for (;;) {
    const it = await gen.next();
    if (it.done) return it.value;
    if (onScale) {
      try {
        await onScale(it.value);
      } catch (e) {
        await gen.return(undefined as never); // runs the generator's cleanup
        throw e;
      }
    }
  }
}

/**
 * Generate images for a batch of class labels (official `autoregressive_infer_cfg`).
 * A raster-order pair (single-scale tokenizer, transformer with `rasterPatchNums(g)`, see
 * raster.ts) is generated token by token in raster order with the same guidance and filters.
 *
 * @example
 * const r = await generate(vae, model, { labels: [3, 7], cfg: 4, topK: 900, topP: 0.95, seed: 0 });
 * // r.images: (2, 3, H, W) in [0, 1]; r.tokens[si]: (2, pn·pn); dispose r.images and r.fHat
 * @throws ValueError for bad labels or options, AbortError when `signal` aborts.
 */
export async function generate(vae: SamplerVQVAE, model: SamplerVAR, opts: GenerateOptions): Promise<GenerateResult> {
  checkModels(vae, model);
  const r = resolve(model, opts, isRasterPair(vae.quantizer, model));
  return drive(runScales(vae, model, r, null), opts.onScale);
}

/**
 * Streaming form of {@link generate}: an async iterator of {@link ScaleEvent}s, one per scale;
 * its return value (from the final `next()`) is the {@link GenerateResult}. Breaking out of a
 * `for await` loop stops generation and frees its tensors.
 */
export function generateStream(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  opts: SampleOptions,
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  checkModels(vae, model);
  const r = resolve(model, opts, isRasterPair(vae.quantizer, model));
  return runScales(vae, model, r, null);
}

async function resolveEdit(vae: SamplerVQVAE, model: SamplerVAR, r: Resolved, o: EditOptions): Promise<ResolvedEdit> {
  const { patchNums } = model.config;
  const B = r.B;
  // input tokens
  let gtRaw: Int32Array[];
  let nIn: number;
  if (o.inputTokens) {
    if (o.image) throw new ValueError('give either image or inputTokens, not both');
    if (!Array.isArray(o.inputTokens) || o.inputTokens.length !== patchNums.length) {
      throw new ShapeError(`inputTokens must have one entry per scale (${patchNums.length}); got ${Array.isArray(o.inputTokens) ? o.inputTokens.length : typeof o.inputTokens}`);
    }
    nIn = -1;
    gtRaw = [];
    for (let si = 0; si < patchNums.length; si++) {
      const t = o.inputTokens[si];
      const l = patchNums[si] ** 2;
      let d: Int32Array;
      if (t instanceof Int32Array) d = t;
      else if (t && typeof (t as tf.Tensor).dataSync === 'function') {
        const tt = t as tf.Tensor2D;
        if (tt.rank !== 2 || tt.shape[1] !== l) throw new ShapeError(`inputTokens[${si}] must be (B, ${l}); got (${tt.shape.join(', ')})`);
        d = Int32Array.from(await tt.data());
      } else throw new ValueError(`inputTokens[${si}] must be an Int32Array or a Tensor2D`);
      if (d.length % l !== 0) throw new ShapeError(`inputTokens[${si}] has ${d.length} values, not a multiple of ${l} (pn=${patchNums[si]})`);
      const n = d.length / l;
      if (nIn === -1) nIn = n;
      else if (n !== nIn) throw new ShapeError(`inputTokens batch differs between scales (${nIn} vs ${n})`);
      for (const v of d) {
        if (!Number.isInteger(v) || v < 0 || v >= model.config.vocabSize) {
          throw new ValueError(`inputTokens[${si}] holds ${v}, outside [0, ${model.config.vocabSize})`);
        }
      }
      gtRaw.push(d);
    }
  } else if (o.image) {
    const img = o.image;
    const side = patchNums[patchNums.length - 1] * vae.downsample;
    const C = vae.config?.inChannels ?? 3;
    if (img.rank !== 4 || img.shape[1] !== C || img.shape[2] !== side || img.shape[3] !== side) {
      throw new ShapeError(`image must be (B, ${C}, ${side}, ${side}) in [-1, 1] (the tokenizer takes ${C} channel${C === 1 ? '' : 's'}); got (${img.shape.join(', ')})`);
    }
    nIn = img.shape[0];
    const idx = vae.imgToIdx(img);
    try {
      gtRaw = await Promise.all(idx.map(async (t) => Int32Array.from(await t.data())));
    } finally {
      tf.dispose(idx);
    }
  } else {
    throw new ValueError('edit needs the image to edit (image) or its tokens (inputTokens)');
  }
  if (nIn !== B && nIn !== 1) {
    throw new ShapeError(`the input has batch ${nIn} but there are ${B} labels; give ${B} images (or 1 to share)`);
  }
  const gt = gtRaw.map((d, si) => {
    if (nIn === B) return d;
    const l = patchNums[si] ** 2;
    const out = new Int32Array(B * l);
    for (let b = 0; b < B; b++) out.set(d, b * l);
    return out;
  });
  // mask
  const m = o.mask;
  let mask4: tf.Tensor4D;
  if (m && typeof (m as tf.Tensor).dataSync === 'function') {
    mask4 = await normalizeMask(m as tf.Tensor, B);
  } else if (m && typeof m === 'object' && (Array.isArray(m) || 'data' in m)) {
    const t = maskFromArray(m as ImageLikeMask | number[][]);
    try {
      mask4 = await normalizeMask(t, B);
    } finally {
      t.dispose();
    }
  } else if (m && typeof m === 'object') {
    const rect = m as EditRect;
    const P = patchNums[patchNums.length - 1];
    const data = editMaskData(patchNums, rect.y0, rect.x0, rect.y1, rect.x1, rect.inpainting ?? true);
    mask4 = tf.tidy(() => tf.tile(tf.tensor4d(data, [1, 1, P, P]), [B, 1, 1, 1]) as tf.Tensor4D);
  } else {
    throw new ValueError('edit needs a mask: a rectangle {y0, x0, y1, x1, inpainting}, a mask tensor, an array of rows or an image');
  }
  try {
    return { keep: await scaleKeepMasks(mask4, patchNums), gt };
  } finally {
    mask4.dispose();
  }
}

async function* editGen(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  r: Resolved,
  o: EditOptions,
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  const e = await resolveEdit(vae, model, r, o);
  return yield* runScales(vae, model, r, e);
}

/**
 * Zero-shot editing (in-painting, out-painting, class-conditional editing), as the official
 * `autoregressive_infer_cfg_with_mask`: the input image is tokenised; at every scale the
 * tokens where the (resized) mask keeps the input are forced to the input's tokens, the others
 * are sampled. Class-conditional editing is an in-painting with another class label.
 */
export async function edit(vae: SamplerVQVAE, model: SamplerVAR, opts: EditOptions): Promise<GenerateResult> {
  checkModels(vae, model);
  const r = resolve(model, opts);
  return drive(editGen(vae, model, r, opts), opts.onScale);
}

/** Streaming form of {@link edit} (see {@link generateStream}). */
export function editStream(
  vae: SamplerVQVAE,
  model: SamplerVAR,
  opts: Omit<EditOptions, 'onScale'>,
): AsyncGenerator<ScaleEvent, GenerateResult, void> {
  checkModels(vae, model);
  const r = resolve(model, opts as EditOptions);
  return editGen(vae, model, r, opts as EditOptions);
}

