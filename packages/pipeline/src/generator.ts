/**
 * A loaded model, ready to generate and edit with the model card's sampling: what
 * {@link loadGenerator} returns.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ValueError, throwIfAborted, type BackendInfo } from '@var/core';
import { convertChannels, decodeImage, imageToTensor, type RawImage } from '@var/data';
import { type ClassRef, type ClassVocabulary, classIndex, className, disposeModel, type LoadedModel, type ModelCard } from '@var/models';
import {
  edit as editTokens,
  generate as generateTokens,
  type EditRect,
  type ImageLikeMask,
  type RandomSource,
  type ScaleEvent,
} from '@var/sampling';
import { generatedImage, inModelChannels, toPixels, type GeneratedImage } from './images.js';

/** Sampling settings of a request; omitted ones come from the model card (see {@link Generator.sampling}). */
export interface SamplingSettings {
  /** Classifier-free guidance strength ≥ 0 (ramped over the scales as the official code). */
  cfg: number;
  /** Keep the k most likely tokens (0 = off). */
  topK: number;
  /** Nucleus threshold in (0, 1) (0 = off). */
  topP: number;
  /** The official "more smooth" Gumbel-softmax sampling (nicer to look at, not for evaluation). */
  moreSmooth: boolean;
}

/** Where a card has no sampling: the sampler's own defaults. */
const SAMPLER_DEFAULTS: Readonly<SamplingSettings> = Object.freeze({ cfg: 1.5, topK: 0, topP: 0, moreSmooth: false });

/** A class: its index, its name or a synonym in the model card (case-insensitive), or `'uncond'`. */
export type { ClassRef };

/** One scale of a generation, as it happens. */
export interface PipelineScaleEvent extends ScaleEvent {
  /** Index (in the request) of the first image of the batch this event belongs to. */
  batchStart: number;
  /** With `previews: true`: the batch's images decoded from the current f_hat. */
  previews?: GeneratedImage[];
}

interface RequestBase extends Partial<SamplingSettings> {
  /** Seed of the random draws (default: a random one, returned in the result so a run can be repeated). */
  seed?: number;
  /** Or your own random source (then `seed` is ignored). */
  rng?: RandomSource;
  /** Images per generation call (default 16; a batch larger than memory allows runs in chunks that fit, see @var/sampling's `chunk`. The images of a seed depend on it). */
  batchSize?: number;
  /** Stop early: the call rejects with an `AbortError` and frees every tensor. */
  signal?: AbortSignal;
  /** Called after every scale (awaited: render a preview before the next scale starts). */
  onScale?: (event: PipelineScaleEvent) => void | Promise<void>;
  /**
   * Called with each batch's finished images as soon as they are ready (awaited): write files
   * as they come, so an interrupted run keeps what it finished.
   */
  onBatch?: (images: GeneratedImage[]) => void | Promise<void>;
  /** Decode an image after every scale, given to `onScale` as `previews` (one decoder pass per scale). */
  previews?: boolean;
  /** Also return the images as one tensor `(B, C, H, W)` in [0, 1] (yours to dispose). */
  returnTensor?: boolean;
}

/** What to generate. */
export interface GenerateRequest extends RequestBase {
  /** The classes (default: every class of the model), each `count` times. */
  classes?: ClassRef | readonly ClassRef[];
  /** Images per class (default 1). */
  count?: number;
}

/** An image to edit: pixels (`ImageData`, a {@link RawImage}), PNG/JPEG bytes, or a tensor `(1, C, H, W)` in [-1, 1]. */
export type EditImage =
  | RawImage
  | { width: number; height: number; data: Uint8ClampedArray | Uint8Array }
  | Uint8Array
  | ArrayBuffer
  | tf.Tensor4D;

/** What to edit: zero-shot in-/out-painting or class editing inside a mask. */
export interface EditRequest extends RequestBase {
  /** The source image; resized and centre-cropped to the model's size. */
  image?: EditImage;
  /**
   * Or the source's tokens per scale, `(1 or B, pn·pn)` each — e.g. `tokens` of an earlier
   * result, to edit a generated image without decoding and re-encoding it.
   */
  inputTokens?: Int32Array[];
  /**
   * Where to keep the source (1 = keep, 0 = generate): a rectangle in fractions of the image
   * (`inpainting: false` regenerates outside it), a mask image (`ImageData`-like, first channel
   * / 255), rows of numbers in [0, 1], or a mask tensor.
   */
  mask: EditRect | ImageLikeMask | number[][] | tf.Tensor;
  /** The class to generate the edited region as (default: unconditional). */
  classes?: ClassRef | readonly ClassRef[];
  /** Edits per class (default 1). */
  count?: number;
}

/** The images of a request, and how they were made. */
export interface GenerationResult {
  images: GeneratedImage[];
  /** The seed used (absent when you passed your own `rng`). */
  seed?: number;
  /** The settings used (request over card over sampler defaults). */
  sampling: SamplingSettings;
  /** With `returnTensor`: every image, `(B, C, H, W)` in [0, 1]; dispose it. */
  tensor?: tf.Tensor4D;
  /** Edits only: the source image as the model saw it (resized, in its channels). */
  input?: GeneratedImage;
  /** Edits only: per scale, how many tokens were kept from the source, of how many (per image). */
  kept?: { pn: number; kept: number; total: number }[];
  /** The tokens of every scale, `(B, pn·pn)` row-major each (for edits: after forcing the source's). */
  tokens: Int32Array[];
  /** Edits only: per scale, 1 where the source's token was kept, `(B, pn·pn)`. */
  keep?: Uint8Array[];
  /** Edits only: the source's tokens per scale, `(B, pn·pn)` each. */
  inputTokens?: Int32Array[];
  /** Wall time of the request (seconds). */
  seconds: number;
}

function isTensor(v: unknown): v is tf.Tensor {
  return v instanceof tf.Tensor;
}

function checkNumber(name: string, v: number, min: number, max = Infinity, integer = false): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    throw new ValueError(
      `${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}${max < Infinity ? ` and ≤ ${max}` : ''}; got ${JSON.stringify(v)}`,
    );
  }
}

/**
 * A model with its card, ready to generate. Create it with {@link loadGenerator}; free it
 * with {@link Generator.dispose}.
 */
export class Generator {
  /** The model card (configs, class names, sampling, measured quality). */
  readonly card: ModelCard;
  /** Class names, index = label. */
  readonly classNames: readonly string[];
  private readonly vocabulary: ClassVocabulary;
  /** Number of classes; label `numClasses` is unconditional. */
  readonly numClasses: number;
  /** Image side in pixels, and channels (1 = gray, 3 = RGB). */
  readonly imageSize: number;
  readonly channels: 1 | 3;
  /** The sampling a request gets where it says nothing: the card's, else the sampler's defaults. */
  readonly sampling: Readonly<SamplingSettings>;
  /** The backend the model runs on (what `initBackend` chose and why). */
  readonly backend: BackendInfo | undefined;
  /** Where the weights came from. */
  readonly source: string;
  private model: LoadedModel | null;

  constructor(model: LoadedModel) {
    this.model = model;
    this.card = model.card;
    this.numClasses = model.var.config.numClasses;
    this.classNames = Object.freeze(Array.from({ length: this.numClasses }, (_, i) => model.card.classNames[i] ?? String(i)));
    this.vocabulary = { classNames: [...this.classNames], classAliases: model.card.classAliases, numClasses: this.numClasses };
    this.imageSize = model.vae.imageSize;
    const c = model.card.channels ?? (model.vae.config.inChannels === 1 ? 1 : 3);
    this.channels = c === 1 ? 1 : 3;
    this.sampling = Object.freeze({ ...SAMPLER_DEFAULTS, ...definedOf(model.card.sampling ?? {}) });
    this.backend = model.backend;
    this.source = model.source;
  }

  /** The tokenizer and transformer, for those who want to go lower (owned by the generator). */
  get models(): LoadedModel {
    return this.open();
  }

  /**
   * A class's label: its index, its name or a synonym (case-insensitive; the official presets
   * answer to every ImageNet synonym) or `'uncond'` (@var/models' classIndex).
   * @throws ValueError for an unknown class, or a name two classes share.
   */
  classIndex(c: ClassRef): number {
    return classIndex(this.vocabulary, c);
  }

  /** The name of a label (`'uncond'` for the unconditional class). */
  className(label: number): string {
    return className(this.vocabulary, label);
  }

  /**
   * Generate images: `count` of each class, with the card's sampling unless overridden.
   *
   * @example
   * const { images } = await gen.generate({ classes: ['7', 3], count: 2, seed: 0 });
   * images[0].png(); // PNG bytes; images[0].rgba: canvas pixels
   */
  async generate(request: GenerateRequest = {}): Promise<GenerationResult> {
    const m = this.open();
    const labels = this.labelsOf(request.classes, request.count, false);
    return this.run(request, labels, async (lab, rng, settings, onScale) =>
      generateTokens(m.vae, m.var, { labels: lab, rng, ...settings, ...onScale }),
    );
  }

  /**
   * Zero-shot editing: keep the source where the mask is 1, generate the rest (as the class
   * asked, else unconditionally).
   *
   * @example
   * const { images } = await gen.edit({ image: pngBytes, mask: { y0: 0, x0: 0, y1: 0.5, x1: 1 }, classes: '7', seed: 3 });
   */
  async edit(request: EditRequest): Promise<GenerationResult> {
    const m = this.open();
    if (request === null || typeof request !== 'object' || (request.image == null) === (request.inputTokens == null)) {
      throw new ValueError('edit needs { image, mask } (or { inputTokens, mask }): give exactly one of the image to edit and its tokens');
    }
    if (request.mask == null)
      throw new ValueError(
        'edit needs { image, mask }: the mask is missing (a rectangle {y0, x0, y1, x1}, a mask image, rows or a tensor)',
      );
    const labels = this.labelsOf(request.classes, request.count, true);
    const x = request.image != null ? this.imageTensor(request.image) : null;
    try {
      const kept: GenerationResult['kept'] = [];
      const inputs: Int32Array[][] = [];
      const source = x ? { image: x } : { inputTokens: request.inputTokens! };
      const result = await this.run(request, labels, async (lab, rng, settings, onScale) => {
        const r = await editTokens(m.vae, m.var, { ...source, mask: request.mask, labels: lab, rng, ...settings, ...onScale });
        if (r.inputTokens) inputs.push(r.inputTokens);
        if (kept.length === 0 && r.keep) {
          r.keep.forEach((k, si) =>
            kept.push({ pn: m.var.config.patchNums[si], kept: k.reduce((a, b) => a + b, 0) / lab.length, total: k.length / lab.length }),
          );
        }
        return r;
      });
      if (x) result.input = await this.pixelsOfInput(x);
      result.kept = kept;
      if (inputs.length) result.inputTokens = concatPerScale(inputs, Int32Array);
      return result;
    } finally {
      x?.dispose();
    }
  }

  /**
   * An image as the model sees it — resized and centre-cropped to its size, in its channels —
   * without running the model (e.g. to show an upload before editing it).
   */
  async inputImage(image: EditImage): Promise<GeneratedImage> {
    this.open();
    const x = this.imageTensor(image);
    try {
      return await this.pixelsOfInput(x);
    } finally {
      x.dispose();
    }
  }

  private async pixelsOfInput(x: tf.Tensor4D): Promise<GeneratedImage> {
    const unit = tf.tidy(() => tf.div(tf.add(x, 1), 2) as tf.Tensor4D);
    try {
      const [pix] = await toPixels(unit, this.channels);
      return generatedImage(pix, -1, this.numClasses, 'input');
    } finally {
      unit.dispose();
    }
  }

  /** Free the model's weights. The generator cannot be used afterwards. */
  dispose(): void {
    if (this.model) disposeModel(this.model);
    this.model = null;
  }

  private open(): LoadedModel {
    if (!this.model) throw new ValueError('this generator was disposed; load the model again with loadGenerator');
    return this.model;
  }

  private labelsOf(classes: GenerateRequest['classes'], count: number | undefined, forEdit: boolean): number[] {
    const n = count ?? 1;
    checkNumber('count', n, 1, 100_000, true);
    let list: number[];
    if (classes === undefined) list = forEdit ? [this.numClasses] : Array.from({ length: this.numClasses }, (_, i) => i);
    else {
      const refs = Array.isArray(classes) ? (classes as readonly ClassRef[]) : [classes as ClassRef];
      if (refs.length === 0) throw new ValueError('classes is empty: give at least one class, or leave it out');
      list = refs.map((c) => this.classIndex(c));
    }
    return list.flatMap((c) => new Array<number>(n).fill(c));
  }

  private settingsOf(r: Partial<SamplingSettings>): SamplingSettings {
    const s: SamplingSettings = { ...this.sampling, ...definedOf({ cfg: r.cfg, topK: r.topK, topP: r.topP, moreSmooth: r.moreSmooth }) };
    checkNumber('cfg', s.cfg, 0);
    checkNumber('topK', s.topK, 0, Infinity, true);
    checkNumber('topP', s.topP, 0, 1);
    if (typeof s.moreSmooth !== 'boolean') throw new ValueError(`moreSmooth must be true or false; got ${JSON.stringify(s.moreSmooth)}`);
    return s;
  }

  private imageTensor(image: EditImage): tf.Tensor4D {
    const channels = this.model!.vae.config.inChannels === 1 ? 1 : 3;
    if (isTensor(image)) {
      const t = image as tf.Tensor;
      const want = [1, channels, this.imageSize, this.imageSize];
      if (t.rank !== 4 || t.shape.some((d, i) => d !== want[i])) {
        throw new ValueError(
          `edit: an image tensor must be (${want.join(', ')}) in [-1, 1]; got (${t.shape.join(', ')}). Pass pixels or PNG/JPEG bytes to have it resized`,
        );
      }
      return tf.clone(t) as tf.Tensor4D;
    }
    let raw: RawImage;
    if (image instanceof Uint8Array || image instanceof ArrayBuffer) raw = decodeImage(image);
    else {
      const im = image as { width: number; height: number; data: ArrayLike<number>; channels?: number };
      if (typeof im !== 'object' || !Number.isInteger(im.width) || !Number.isInteger(im.height) || !im.data) {
        throw new ValueError('edit: image must be ImageData-like { width, height, data }, a RawImage, PNG/JPEG bytes or a tensor');
      }
      const px = im.width * im.height;
      const ch = im.channels ?? (px > 0 ? im.data.length / px : 0);
      if (ch !== 1 && ch !== 2 && ch !== 3 && ch !== 4) {
        throw new ValueError(
          `edit: image data has ${im.data.length} bytes for ${im.width}×${im.height} pixels; expected 1, 2, 3 or 4 bytes per pixel`,
        );
      }
      const data =
        im.data instanceof Uint8Array
          ? im.data
          : new Uint8Array((im.data as Uint8ClampedArray).buffer, (im.data as Uint8ClampedArray).byteOffset, im.data.length);
      raw = { width: im.width, height: im.height, channels: ch as RawImage['channels'], data };
    }
    if (raw.channels !== channels && raw.channels !== 4 && raw.channels !== 2) raw = convertChannels(raw, channels);
    return imageToTensor(raw, { channels, size: this.imageSize });
  }

  private async run(
    request: RequestBase,
    labels: number[],
    step: (
      labels: number[],
      rng: RandomSource,
      settings: SamplingSettings,
      hooks: { signal?: AbortSignal; previews?: boolean; onScale?: (ev: ScaleEvent) => Promise<void> },
    ) => Promise<{ images: tf.Tensor4D | null; fHat: tf.Tensor4D; tokens: Int32Array[]; keep?: Uint8Array[] }>,
  ): Promise<GenerationResult> {
    const t0 = performance.now();
    const settings = this.settingsOf(request);
    const batch = request.batchSize ?? 16;
    checkNumber('batchSize', batch, 1, 4096, true);
    let seed: number | undefined;
    let rng = request.rng;
    if (!rng) {
      seed = request.seed ?? Math.floor(Math.random() * 2 ** 31);
      checkNumber('seed', seed, 0, 2 ** 32 - 1, true);
      rng = new Rng(seed);
    }
    const images: GeneratedImage[] = [];
    const tensors: tf.Tensor4D[] = [];
    const tokens: Int32Array[][] = [];
    const keep: Uint8Array[][] = [];
    try {
      for (let b0 = 0; b0 < labels.length; b0 += batch) {
        throwIfAborted(request.signal);
        const lab = labels.slice(b0, b0 + batch);
        const onScale = request.onScale;
        const hooks = {
          ...(request.signal ? { signal: request.signal } : {}),
          previews: !!request.previews,
          ...(onScale
            ? {
                onScale: async (ev: ScaleEvent) => {
                  const previews = ev.preview
                    ? (await toPixels(ev.preview, this.channels)).map((p, i) => generatedImage(p, b0 + i, lab[i], this.className(lab[i])))
                    : undefined;
                  const { preview: _omit, ...rest } = ev;
                  await onScale({ ...rest, batchStart: b0, ...(previews ? { previews } : {}) });
                },
              }
            : {}),
        };
        const r = await step(lab, rng, settings, hooks);
        tokens.push(r.tokens);
        if (r.keep) keep.push(r.keep);
        try {
          const pix = await toPixels(r.images!, this.channels);
          const done = pix.map((p, i) => generatedImage(p, b0 + i, lab[i], this.className(lab[i])));
          images.push(...done);
          if (request.onBatch) await request.onBatch(done);
          if (request.returnTensor) tensors.push(inModelChannels(r.images!, this.channels));
        } finally {
          r.images?.dispose();
          r.fHat.dispose();
        }
      }
      const tensor = request.returnTensor ? (tensors.length === 1 ? tensors[0] : (tf.concat(tensors, 0) as tf.Tensor4D)) : undefined;
      if (tensor && tensors.length > 1) tensors.forEach((t) => t.dispose());
      return {
        images,
        ...(seed !== undefined ? { seed } : {}),
        sampling: settings,
        ...(tensor ? { tensor } : {}),
        tokens: concatPerScale(tokens, Int32Array),
        ...(keep.length ? { keep: concatPerScale(keep, Uint8Array) } : {}),
        seconds: (performance.now() - t0) / 1000,
      };
    } catch (e) {
      tensors.forEach((t) => t.dispose());
      throw e;
    }
  }
}

/** Per-scale arrays of each batch → per-scale arrays of the whole request. */
function concatPerScale<A extends Int32Array | Uint8Array>(batches: A[][], Ctor: { new (n: number): A }): A[] {
  if (batches.length === 1) return batches[0];
  return batches[0].map((_, si) => {
    const out = new Ctor(batches.reduce((n, b) => n + b[si].length, 0));
    let off = 0;
    for (const b of batches) {
      out.set(b[si] as never, off);
      off += b[si].length;
    }
    return out;
  });
}

function definedOf<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
