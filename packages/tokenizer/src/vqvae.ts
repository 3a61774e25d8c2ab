/**
 * The multi-scale VQVAE of VAR (official models/vqvae.py): encoder → quant_conv →
 * multi-scale residual quantiser → post_quant_conv → decoder.
 *
 * Public tensors are NCHW (as the official code); encoder and decoder run in NHWC
 * internally. Parameters are tf.Variables keyed by the official state-dict names;
 * convolution weights are held as (kh, kw, in, out) and converted to / from PyTorch's
 * (out, in, kh, kw) by {@link VQVAE.stateDict} / {@link VQVAE.loadStateDict}.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type ByteProgress, type CheckpointReader, type CheckpointSource, openStateDict, readTensors } from '@var/checkpoint';
import { Rng, ShapeError, ValueError, weightTensor } from '@var/core';
import { assertFinite, assertNCHW, fmt } from './checks.js';
import { downsampleFactor, resolveVQVAEConfig, VQVAE_PRESETS, type VQVAEConfig, type VQVAEPresetName } from './config.js';
import { initEntry, type InitOptions } from './init.js';
import { conv, decoderForward, encoderForward, type ForwardOptions } from './nn.js';
import { MultiScaleQuantizer } from './quantizer.js';
import { stateDictEntries, type StateEntry } from './shapes.js';
import { checkStateDict, entryToFloat32, type StateDictLike, type StateDictOut } from './statedict.js';

/** A config object, a partial config (defaults filled in) or a preset name. */
export type VQVAEConfigInput = Partial<VQVAEConfig> | VQVAEPresetName;

export function configFrom(input: VQVAEConfigInput | undefined): VQVAEConfig {
  if (typeof input === 'string') {
    const preset = (VQVAE_PRESETS as Record<string, VQVAEConfig>)[input];
    if (!preset) throw new ValueError(`unknown VQVAE preset "${input}" (known: ${Object.keys(VQVAE_PRESETS).join(', ')})`);
    return resolveVQVAEConfig(preset);
  }
  return resolveVQVAEConfig(input ?? {});
}

export interface CreateOptions extends InitOptions {
  /** Seed of the random initialisation (default 0). */
  seed?: number;
}

export interface LoadOptions {
  /** Require exactly the model's keys (default true). Mis-shaped keys always throw. */
  strict?: boolean;
}

/** {@link VQVAE.load}'s options: {@link LoadOptions} and how the file is read. */
export interface LoadCheckpointOptions extends LoadOptions {
  /** Bytes read of the file so far. */
  onProgress?: (p: ByteProgress) => void;
  /** Check the CRC-32 of each `.pth` storage (default true). */
  verifyCrc?: boolean;
}

/** OIHW (PyTorch) → HWIO (tfjs) for a conv weight, identity otherwise, written once into backend memory (@var/core's weightTensor). */
function toInternal(entry: StateEntry, data: Float32Array): tf.Tensor {
  return weightTensor(data, entry.shape, entry.kind === 'conv-weight' ? 'oihw-to-hwio' : 'as-is');
}

export class VQVAE {
  readonly config: VQVAEConfig;
  readonly quantizer: MultiScaleQuantizer;
  /** Spatial downsample factor of the encoder, 2^(len(chMult)-1). */
  readonly downsample: number;
  /** Every state-dict entry (parameters and buffers), in official order. */
  readonly entries: readonly StateEntry[];
  private readonly vars = new Map<string, tf.Variable>();
  private disposed = false;
  private seedCounter = 0;

  /** `values` gives each entry's official-layout data, or a tensor already in the internal layout (fromCheckpoint). */
  private constructor(config: VQVAEConfig, values: (entry: StateEntry) => Float32Array | tf.Tensor) {
    this.config = config;
    this.downsample = downsampleFactor(config);
    this.entries = stateDictEntries(config);
    this.quantizer = new MultiScaleQuantizer(this.vars, config);
    try {
      for (const e of this.entries) {
        const data = values(e);
        if (e.kind === 'buffer') {
          if (e.name === 'quantize.ema_vocab_hit_SV' && data instanceof Float32Array) this.quantizer.emaVocabHit = data;
          continue;
        }
        const t = data instanceof Float32Array ? toInternal(e, data) : data;
        this.vars.set(e.name, tf.variable(t, true));
        t.dispose();
      }
    } catch (err) {
      this.dispose();
      throw err;
    }
  }

  /** A randomly initialised model (PyTorch default init rules, seeded). */
  static create(config?: VQVAEConfigInput, opts: CreateOptions = {}): VQVAE {
    const c = configFrom(config);
    const rng = new Rng(opts.seed ?? 0);
    let fanIn = 1;
    return new VQVAE(c, (e) => {
      if (e.kind === 'conv-weight') fanIn = e.shape[1] * e.shape[2] * e.shape[3];
      return initEntry(e.kind === 'conv-bias' ? ({ ...e, fanIn } as StateEntry) : e, rng, opts);
    });
  }

  /**
   * A model holding the weights of an official-layout state dict (conv weights OIHW).
   * @throws CheckpointError listing missing / unexpected / mis-shaped keys.
   */
  static fromStateDict(sd: StateDictLike, config?: VQVAEConfigInput, opts: LoadOptions = {}): VQVAE {
    const c = configFrom(config);
    const entries = stateDictEntries(c);
    const usable = checkStateDict(sd, entries, opts.strict ?? true, 'VQVAE');
    let fanIn = 1;
    const rng = new Rng(0);
    return new VQVAE(c, (e) => {
      if (e.kind === 'conv-weight') fanIn = e.shape[1] * e.shape[2] * e.shape[3];
      if (usable.has(e.name)) return entryToFloat32(sd.get(e.name)!, { view: e.kind !== 'buffer' }); // the buffer is kept
      return initEntry(e.kind === 'conv-bias' ? ({ ...e, fanIn } as StateEntry) : e, rng);
    });
  }

  /**
   * Load an official checkpoint (`.pth` or `.safetensors`; a path, bytes or a fetch
   * Response) through @var/checkpoint. `config` must describe the checkpoint's model
   * (e.g. `'vae_ch160v4096z32'` for the released VAR tokenizer).
   */
  static async load(source: CheckpointSource, config?: VQVAEConfigInput, opts: LoadCheckpointOptions = {}): Promise<VQVAE> {
    const reader = await openStateDict(source, { onProgress: opts.onProgress, verifyCrc: opts.verifyCrc });
    try {
      return await VQVAE.fromCheckpoint(reader, config, opts);
    } finally {
      await reader.close();
    }
  }

  /**
   * A model read tensor by tensor from an open checkpoint (@var/checkpoint's `openStateDict`):
   * keys and shapes are checked before any weight is read, then each weight goes from the file
   * through one reused scratch buffer into backend memory (conv weights OIHW → HWIO on the
   * way), so loading holds the weights plus the largest tensor. The reader stays open.
   * @throws CheckpointError listing missing / unexpected / mis-shaped keys, or on unreadable / corrupt tensors
   */
  static async fromCheckpoint(reader: CheckpointReader, config?: VQVAEConfigInput, opts: LoadOptions = {}): Promise<VQVAE> {
    const c = configFrom(config);
    const entries = stateDictEntries(c);
    const usable = checkStateDict(reader.entries, entries, opts.strict ?? true, 'VQVAE');
    const made = new Map<string, Float32Array | tf.Tensor>();
    try {
      const byName = new Map(entries.filter((e) => usable.has(e.name)).map((e) => [e.name, e]));
      // each weight read while the previous one is written into backend memory
      for await (const [name, raw] of readTensors(reader, byName.keys())) {
        const e = byName.get(name)!;
        // the buffer is kept by the quantizer: its own copy; weights are copied into backend memory
        const data = entryToFloat32(raw, { view: e.kind !== 'buffer' });
        made.set(e.name, e.kind === 'buffer' ? data : toInternal(e, data));
      }
      let fanIn = 1;
      const rng = new Rng(0);
      return new VQVAE(c, (e) => {
        if (e.kind === 'conv-weight') fanIn = e.shape[1] * e.shape[2] * e.shape[3];
        return made.get(e.name) ?? initEntry(e.kind === 'conv-bias' ? ({ ...e, fanIn } as StateEntry) : e, rng);
      });
    } catch (err) {
      for (const v of made.values()) if (!(v instanceof Float32Array)) v.dispose(); // taken ones are disposed already
      throw err;
    }
  }

  // ------------------------------------------------------------------ weights

  /** The state dict in official names and layouts (conv weights OIHW), float32, including the buffer `quantize.ema_vocab_hit_SV`. */
  stateDict(): StateDictOut {
    this.checkAlive();
    const out: StateDictOut = new Map();
    for (const e of this.entries) {
      if (e.kind === 'buffer') {
        out.set(e.name, { dtype: 'F32', shape: [...e.shape], data: new Float32Array(this.quantizer.emaVocabHit) });
        continue;
      }
      const v = this.vars.get(e.name)!;
      const t = e.kind === 'conv-weight' ? tf.transpose(v, [3, 2, 0, 1]) : v;
      const data = new Float32Array(t.dataSync() as Float32Array);
      if (t !== v) t.dispose();
      out.set(e.name, { dtype: 'F32', shape: [...e.shape], data });
    }
    return out;
  }

  /**
   * Replace the weights by those of an official-layout state dict. All keys are checked
   * before anything is written (on error the model is unchanged).
   * @throws CheckpointError listing missing / unexpected / mis-shaped keys
   */
  loadStateDict(sd: StateDictLike, opts: LoadOptions = {}): void {
    this.checkAlive();
    const usable = checkStateDict(sd, this.entries, opts.strict ?? true, 'VQVAE');
    const converted = new Map<string, Float32Array>();
    for (const e of this.entries)
      if (usable.has(e.name)) converted.set(e.name, entryToFloat32(sd.get(e.name)!, { view: e.kind !== 'buffer' }));
    for (const e of this.entries) {
      const data = converted.get(e.name);
      if (!data) continue;
      if (e.kind === 'buffer') {
        this.quantizer.emaVocabHit = data;
        continue;
      }
      const t = toInternal(e, data);
      this.vars.get(e.name)!.assign(t);
      t.dispose();
    }
  }

  /** Trainable variables by official name (conv weights held as (kh, kw, in, out)). */
  trainableVariables(): Map<string, tf.Variable> {
    this.checkAlive();
    return new Map(this.vars);
  }

  /** Number of trainable parameters (buffers excluded), as PyTorch counts them. */
  numParameters(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /** Free every variable. The model cannot be used afterwards. */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.disposed = true;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  private checkAlive(): void {
    if (this.disposed) throw new ValueError('this VQVAE has been disposed');
  }

  // ------------------------------------------------------------------ checks

  /**
   * Validate an image batch: (B, inChannels, H, W) float32, H and W multiples of the
   * downsample factor (and equal to {@link imageSize} when `needTokens`), all finite.
   * @throws ShapeError | ValueError | NonFiniteError
   */
  checkImage(what: string, img: unknown, needTokens: boolean): asserts img is tf.Tensor4D {
    this.checkAlive();
    const c = this.config;
    assertNCHW(what, img, c.inChannels, `(B, ${c.inChannels}, H, W)`);
    const [, , H, W] = img.shape;
    const ds = this.downsample;
    if (H % ds !== 0 || W % ds !== 0 || H === 0 || W === 0) {
      throw new ShapeError(`${what}: height and width must be positive multiples of the downsample factor ${ds}; got ${H}x${W}`);
    }
    if (needTokens) {
      const P = this.quantizer.finalSize;
      if (H / ds !== P || W / ds !== P) {
        throw new ShapeError(
          `${what}: the tokenizer needs ${P * ds}x${P * ds} images (last patch num ${P} x downsample ${ds}); got ${H}x${W} (a ${H / ds}x${W / ds} latent)`,
        );
      }
    }
    assertFinite(what, img);
  }

  private fwdOpts(training: boolean): ForwardOptions {
    return { training, nextSeed: () => ++this.seedCounter };
  }

  // ------------------------------------------------------------------ internal graph pieces (no tidy)

  /** img (B,3,H,W) → f (B,Cvae,h,w); runs inside a tidy / gradient scope. */
  encodeRaw(img: tf.Tensor4D, training = false): tf.Tensor4D {
    const x = tf.transpose(img, [0, 2, 3, 1]) as tf.Tensor4D;
    const h = encoderForward(this.vars, this.config, x, this.fwdOpts(training));
    return tf.transpose(conv(this.vars, 'quant_conv', h), [0, 3, 1, 2]);
  }

  /** f_hat (B,Cvae,h,w) → image (B,3,H,W), not clamped; runs inside a tidy / gradient scope. */
  decodeRaw(fHat: tf.Tensor4D, training = false): tf.Tensor4D {
    const z = tf.transpose(fHat, [0, 2, 3, 1]) as tf.Tensor4D;
    const pq = conv(this.vars, 'post_quant_conv', z);
    return tf.transpose(decoderForward(this.vars, this.config, pq, this.fwdOpts(training)), [0, 3, 1, 2]);
  }

  // ------------------------------------------------------------------ public API

  /** Encoder features before quantisation: `quant_conv(encoder(img))`, img (B,3,H,W) in [-1,1] → f (B,Cvae,H/ds,W/ds). */
  encode(img: tf.Tensor4D): tf.Tensor4D {
    this.checkImage('encode: img', img, false);
    return tf.tidy(() => this.encodeRaw(img));
  }

  /** Decoder image of a latent: `decoder(post_quant_conv(fHat)).clamp(-1, 1)`, fHat (B,Cvae,h,w) → (B,3,h*ds,w*ds). */
  fhatToImg(fHat: tf.Tensor4D): tf.Tensor4D {
    this.checkAlive();
    assertNCHW('fhatToImg: fHat', fHat, this.config.zChannels, '(B, Cvae, h, w)');
    assertFinite('fhatToImg: fHat', fHat);
    return tf.tidy(() => tf.clipByValue(this.decodeRaw(fHat), -1, 1));
  }

  /** Alias of {@link fhatToImg}. */
  decode(fHat: tf.Tensor4D): tf.Tensor4D {
    return this.fhatToImg(fHat);
  }

  /** Token indices of every scale (official `img_to_idxBl`): (B, pn*pn) int32, row-major. */
  imgToIdx(img: tf.Tensor4D): tf.Tensor2D[] {
    this.checkImage('imgToIdx: img', img, true);
    const f = tf.tidy(() => this.encodeRaw(img));
    try {
      return this.quantizer.fToIdx(f);
    } finally {
      f.dispose();
    }
  }

  /** Final f_hat from the token indices of all scales. */
  idxToFhat(idx: tf.Tensor2D[]): tf.Tensor4D {
    this.checkAlive();
    return this.quantizer.idxToFhat(idx);
  }

  /** Cumulative f_hat after scales 0..k for every k. */
  idxToFhatPerScale(idx: tf.Tensor2D[]): tf.Tensor4D[] {
    this.checkAlive();
    return this.quantizer.idxToFhatPerScale(idx);
  }

  /** Reconstruction from the token indices of all scales (official `idxBl_to_img(idx, same_shape=True, last_one=True)`). */
  idxToImg(idx: tf.Tensor2D[]): tf.Tensor4D {
    const fHat = this.idxToFhat(idx);
    try {
      return tf.tidy(() => tf.clipByValue(this.decodeRaw(fHat), -1, 1));
    } finally {
      fHat.dispose();
    }
  }

  /**
   * Images decoded after scales 0..k for every k (official
   * `idxBl_to_img(idx, same_shape=True, last_one=False)` for token maps, or
   * `img_to_reconstructed_img(img, last_one=False)` for an image).
   */
  reconstructionsPerScale(input: tf.Tensor4D | tf.Tensor2D[]): tf.Tensor4D[] {
    this.checkAlive();
    let fHats: tf.Tensor4D[];
    if (Array.isArray(input)) {
      fHats = this.quantizer.idxToFhatPerScale(input);
    } else {
      this.checkImage('reconstructionsPerScale: img', input, true);
      const f = tf.tidy(() => this.encodeRaw(input));
      try {
        fHats = this.quantizer.fToFhatPerScale(f);
      } finally {
        f.dispose();
      }
    }
    const out: tf.Tensor4D[] = [];
    try {
      for (const fh of fHats) out.push(tf.tidy(() => tf.clipByValue(this.decodeRaw(fh), -1, 1)));
    } catch (err) {
      out.forEach((t) => t.dispose());
      throw err;
    } finally {
      fHats.forEach((t) => t.dispose());
    }
    return out;
  }

  /** Reconstruction through all scales of an image: decode(f_hat(img)). */
  reconstruct(img: tf.Tensor4D): tf.Tensor4D {
    this.checkImage('reconstruct: img', img, true);
    const f = tf.tidy(() => this.encodeRaw(img));
    let fHats: tf.Tensor4D[];
    try {
      fHats = this.quantizer.fToFhatPerScale(f);
    } finally {
      f.dispose();
    }
    try {
      return tf.tidy(() => tf.clipByValue(this.decodeRaw(fHats[fHats.length - 1]), -1, 1));
    } finally {
      fHats.forEach((t) => t.dispose());
    }
  }

  /** Teacher-forcing input of the VAR transformer, (B, L - pn0², Cvae) (official `quantize.idxBl_to_var_input`). */
  idxToVarInput(idx: tf.Tensor2D[]): tf.Tensor3D {
    this.checkAlive();
    return this.quantizer.idxToVarInput(idx);
  }

  /** Image size the tokenizer works at: last patch num × downsample. */
  get imageSize(): number {
    return this.quantizer.finalSize * this.downsample;
  }

  toString(): string {
    const c = this.config;
    return `VQVAE(ch=${c.ch}, chMult=${fmt(c.chMult)}, V=${c.vocabSize}, Cvae=${c.zChannels}, patchNums=${fmt(c.vPatchNums)}, params=${this.numParameters()})`;
  }
}
