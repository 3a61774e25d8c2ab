/**
 * The options of {@link generate} / {@link edit}, checked and resolved once before sampling.
 */
import { ConfigError, Rng, ValueError } from '@var/core';
import { checkFilterOptions, type RandomSource } from './filter.js';
import { isRasterPair } from './raster.js';
import type { PhaseTiming } from './timing.js';
import type { ScaleEvent } from './infer.js';
import type { SamplerVAR, SamplerVQVAE } from './types.js';

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
   * How many images run through the transformer (both CFG sequences) and the decoder together.
   * `'auto'` (default): the whole batch when it fits in the backend's memory, else the largest
   * chunk that fits (see `assertBatchFits`; the KV caches of the whole batch stay alive, so the
   * batch is bounded by them). A number: chunks of that many images (the batch at most).
   * Chunking changes no token (the draws stay over the whole batch in the same order); the
   * logits and images agree to float rounding.
   */
  chunk?: 'auto' | number;
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

/** {@link generate} options plus a per-scale callback. */
export interface GenerateOptions extends SampleOptions {
  /** Called after every scale; awaited, so it can render before the next scale starts. */
  onScale?: (event: ScaleEvent) => void | Promise<void>;
}

/** Options after checking, as the sampler loop reads them. */
export interface Resolved {
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
  chunk: 'auto' | number;
  onPhase?: (timing: PhaseTiming) => void;
}

/** The tokenizer and transformer belong together (same scales, vocabulary and Cvae). */
export function checkModels(vae: SamplerVQVAE, model: SamplerVAR): void {
  const c = model?.config;
  const q = vae?.quantizer;
  if (!c || !q) throw new ValueError('generate needs a VQVAE (with .quantizer) and a VAR (with .config)');
  const bad: string[] = [];
  const pq = q.vPatchNums,
    pv = c.patchNums;
  if (!isRasterPair(q, model) && (pq.length !== pv.length || pq.some((p, i) => p !== pv[i]))) {
    bad.push(`patch numbers (${pq.join(', ')}) vs (${pv.length > 12 ? `${pv.length} scales` : pv.join(', ')})`);
  }
  if (q.vocabSize !== c.vocabSize) bad.push(`vocabulary ${q.vocabSize} vs ${c.vocabSize}`);
  if (q.Cvae !== c.Cvae) bad.push(`Cvae ${q.Cvae} vs ${c.Cvae}`);
  if (bad.length) {
    throw new ConfigError(
      `the VQVAE and the VAR do not belong together (VQVAE vs VAR): ${bad.join('; ')}; load the tokenizer the transformer was trained with`,
    );
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
      throw new ValueError(`label ${i} must be an integer in [0, ${numClasses}] (${numClasses} = unconditional); got ${String(v)}`);
    }
  });
  return Int32Array.from(arr);
}

function checkOnPhase(f: unknown): Resolved['onPhase'] {
  if (f == null) return undefined;
  if (typeof f !== 'function') throw new ValueError(`onPhase must be a function; got ${typeof f}`);
  return f as Resolved['onPhase'];
}

function checkChunk(c: unknown): 'auto' | number {
  if (c == null || c === 'auto') return 'auto';
  if (typeof c !== 'number' || !Number.isInteger(c) || c < 1)
    throw new ValueError(`chunk must be 'auto' or a positive integer; got ${String(c)}`);
  return c;
}

/** Check and resolve the options (raster-order pairs guide with a constant strength by default). */
export function resolve(model: SamplerVAR, o: SampleOptions, raster = false): Resolved {
  if (o == null || typeof o !== 'object') throw new ValueError('options are required ({ labels, ... })');
  const cfgSchedule = o.cfgSchedule ?? (raster ? 'constant' : 'linear');
  if (cfgSchedule !== 'linear' && cfgSchedule !== 'constant')
    throw new ValueError(`cfgSchedule must be 'linear' or 'constant'; got ${String(o.cfgSchedule)}`);
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
    chunk: checkChunk(o.chunk),
    onPhase: checkOnPhase(o.onPhase),
  };
}
