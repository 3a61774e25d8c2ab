/**
 * The VAR transformer (FoundationVision/VAR models/var.py + models/basic_var.py) on TensorFlow.js.
 *
 * Parameters are `tf.Variable`s keyed by the official state-dict names, in PyTorch layouts
 * except the linear weights, which are stored once, transposed to (in, out) — the layout their
 * products take — from load or creation on; the official (out, in) layout exists only in
 * exported state dicts (`stateDict()`). The forward pass reads top to bottom like the official one:
 * class embedding → sos + word embedding of the teacher-forcing input → + level/position
 * embeddings → AdaLN self-attention blocks (block-causal over scales) → AdaLN head → logits.
 */
import * as tf from '@tensorflow/tfjs-core';
import { CheckpointError, Rng, ShapeError, ValueError, weightTensor } from '@var/core';
import { attend, type AttentionImpl, type AttentionMask } from './attention.js';
import { deriveConfig, paramShapes, type ParamSpec, type VARConfig, type VARDerived } from './config.js';
import { initParameterValues, type InitArgs } from './init.js';
import { geluTanh, layerNorm, linear, silu } from './ops.js';
import { toRng, type RandomSource } from './rng.js';
import type { StateDict } from './state.js';
import { type CheckpointReader, readTensors } from '@var/checkpoint';
import { checkStateDict, rawToFloat32, transpose2D } from './state.js';

export interface CreateOptions {
  /** Seed (or generator) of the official initialisation. Default 0. */
  seed?: number | RandomSource;
  /** Arguments of the official `init_weights` (build_vae_var defaults: 0.5, 1e-5, 0.02, -1). */
  init?: Partial<InitArgs>;
  /** Attention formulation (default `auto`: per-head 2-D products for large scales, batched for small). */
  attention?: AttentionImpl;
}

export interface ForwardOptions {
  /** Training mode: applies conditional label dropout (`condDropRate`) and drop-path. */
  training?: boolean;
  /** Randomness for the label dropout / drop-path in training (seed or generator); default: the model's own generator, which advances with every call. */
  rng?: number | RandomSource;
  /** Progressive training: only scales 0..progSi are run (official `prog_si`); -1 = all. */
  progSi?: number;
}

type Labels = tf.Tensor1D | Int32Array | number[];

interface AdaParts {
  gamma1: tf.Tensor;
  gamma2: tf.Tensor;
  scale1: tf.Tensor;
  scale2: tf.Tensor;
  shift1: tf.Tensor;
  shift2: tf.Tensor;
}

let modelCounter = 0;

/** The next-scale-prediction transformer. */
export class VAR {
  readonly config: VARConfig;
  readonly derived: VARDerived;
  /** Which exact attention formulation the passes use (see attention.ts). */
  attentionImpl: AttentionImpl;
  private readonly specs: ParamSpec[];
  private readonly vars = new Map<string, tf.Variable>();
  /** Non-trainable `zero_k_bias` buffers (kept for fidelity; zeros unless a checkpoint says otherwise). */
  private readonly kBias = new Map<string, tf.Tensor>();
  private disposed = false;
  private readonly uid = ++modelCounter;
  /** Randomness of training-mode passes that get no `rng` (advances with every call). */
  private readonly trainRng: RandomSource = new Rng(0x5eed + this.uid);

  /**
   * Allocates the parameters one at a time from `values` (each in the official layout: linear
   * weights (out, in)), writing each into backend memory in the stored layout (@var/core's
   * `weightTensor`: transposed on the way, on wasm straight into the heap) before the next is
   * produced, so no second copy of the weights exists at any time. Frees what it made when `values` throws.
   */
  private constructor(
    config: VARConfig,
    attention: AttentionImpl,
    values: (specs: ParamSpec[]) => Iterable<[ParamSpec, Float32Array | tf.Tensor]>,
  ) {
    this.config = { ...config, patchNums: [...config.patchNums] };
    this.derived = deriveConfig(this.config);
    this.specs = paramShapes(this.config);
    this.attentionImpl = attention;
    try {
      for (const [s, v] of values(this.specs)) {
        // a tensor is already in the stored layout (fromCheckpoint); values are official-layout data
        const t = v instanceof Float32Array ? weightTensor(v, s.shape, s.linear ? 'transpose' : 'as-is') : v;
        this.vars.set(s.name, tf.variable(t, true, `var${this.uid}/${s.name}`));
        t.dispose();
      }
      for (const s of this.specs) {
        if (s.kind === 'param' && !this.vars.has(s.name))
          throw new CheckpointError(`${s.name}: no value (internal: parameter source ended early)`);
        if (s.kind === 'buffer' && s.name.endsWith('zero_k_bias')) this.kBias.set(s.name, tf.keep(tf.zeros(s.shape)));
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /**
   * A model with the official initialisation (`init_weights` as called by build_vae_var). Each
   * parameter is drawn, transposed where it is a linear weight, and uploaded before the next.
   */
  static create(config: VARConfig, opts: CreateOptions = {}): VAR {
    deriveConfig(config);
    const rng = toRng(opts.seed, 0);
    return new VAR(config, opts.attention ?? 'auto', function* () {
      yield* initParameterValues(config, rng, opts.init);
    });
  }

  /**
   * A model whose parameters come from an official state dict (see {@link VAR.loadStateDict}).
   * Parameters are converted (dtype, and the transposition of linear weights) and uploaded one at a
   * time. With `release: true` each entry is deleted from `sd` once uploaded (the map ends empty of
   * the model's tensors), so a caller that keeps no other reference to them holds at most the
   * weights plus one tensor while loading (`loadVAR` does this).
   */
  static fromStateDict(
    config: VARConfig,
    sd: StateDict,
    opts: { strict?: boolean; attention?: AttentionImpl; release?: boolean } = {},
  ): VAR {
    const specs = paramShapes(config);
    checkStateDict(specs, sd, opts.strict ?? true);
    const d = deriveConfig(config);
    checkLevels(sd, d.beginEnds, config.patchNums);
    const m = new VAR(config, opts.attention ?? 'auto', function* (sp) {
      for (const s of sp) {
        if (s.kind !== 'param') continue;
        yield [s, rawToFloat32(s.name, sd.get(s.name)!)];
        if (opts.release) sd.delete(s.name);
      }
    });
    m.loadKBias(sd, opts.release ?? false);
    if (opts.release) for (const s of specs) sd.delete(s.name);
    return m;
  }

  /**
   * A model read tensor by tensor from an open checkpoint (@var/checkpoint's `openStateDict`):
   * keys and shapes are checked before any weight is read, then each parameter goes from the
   * file through one reused scratch buffer straight into backend memory (transposed on the way
   * where it is a linear weight), so loading holds the weights plus the largest tensor. The
   * reader stays open (the caller closes it).
   * @throws CheckpointError on missing / unexpected / mis-shaped keys, unreadable or corrupt tensors
   */
  static async fromCheckpoint(
    config: VARConfig,
    reader: CheckpointReader,
    opts: { strict?: boolean; attention?: AttentionImpl } = {},
  ): Promise<VAR> {
    const specs = paramShapes(config);
    checkStateDict(specs, reader.entries, opts.strict ?? true);
    const d = deriveConfig(config);
    // the buffers (level indices, zero k biases) are small: read whole
    const small: StateDict = new Map();
    for (const s of specs) {
      const e = s.kind === 'buffer' ? reader.entries.get(s.name) : undefined;
      if (e) small.set(s.name, await e.read());
    }
    checkLevels(small, d.beginEnds, config.patchNums);
    const made: [ParamSpec, tf.Tensor][] = [];
    try {
      const params = specs.filter((s) => s.kind === 'param');
      const absent = params.find((s) => !reader.entries.has(s.name));
      if (absent)
        throw new CheckpointError(
          `${reader.label}: parameter "${absent.name}" is missing (strict: false loads only checkpoints that have every parameter)`,
        );
      const byName = new Map(params.map((s) => [s.name, s]));
      // each weight read while the previous one is written into backend memory
      for await (const [name, raw] of readTensors(reader, byName.keys())) {
        const s = byName.get(name)!;
        made.push([s, weightTensor(rawToFloat32(s.name, raw), s.shape, s.linear ? 'transpose' : 'as-is')]);
      }
      const m = new VAR(config, opts.attention ?? 'auto', () => made);
      m.loadKBias(small, false);
      return m;
    } catch (e) {
      tf.dispose(made.map(([, t]) => t)); // those the model took are disposed already (a no-op)
      throw e;
    }
  }

  // ---------------------------------------------------------------- state

  /**
   * Trainable parameters by official name, as stored: linear weights (in, out), the transpose of
   * their official layout (`stateDict()` gives that; `toOfficialLayout` converts tensors keyed by
   * these names, such as gradients or AdamW moments).
   */
  trainableVariables(): Map<string, tf.Variable> {
    this.assertAlive();
    return new Map(this.vars);
  }

  /** Number of trainable parameter elements. */
  numParameters(): number {
    let n = 0;
    for (const v of this.vars.values()) n += v.size;
    return n;
  }

  /**
   * The official state dict (parameters and buffers, official order and layouts: linear weights
   * (out, in)), F32 except `lvl_1L` (I64).
   */
  stateDict(): StateDict {
    this.assertAlive();
    const out: StateDict = new Map();
    const { L, beginEnds } = this.derived;
    for (const s of this.specs) {
      if (s.kind === 'param') {
        const d = this.vars.get(s.name)!.dataSync() as Float32Array;
        out.set(s.name, { dtype: 'F32', shape: [...s.shape], data: s.linear ? transpose2D(d, s.shape[1], s.shape[0]) : d.slice() });
      } else if (s.name === 'lvl_1L') {
        const d = new BigInt64Array(L);
        beginEnds.forEach(([b, e], i) => d.fill(BigInt(i), b, e));
        out.set(s.name, { dtype: 'I64', shape: [1, L], data: d });
      } else if (s.name === 'attn_bias_for_masking') {
        out.set(s.name, { dtype: 'F32', shape: [1, 1, L, L], data: blockCausalBias(beginEnds, L) });
      } else {
        out.set(s.name, { dtype: 'F32', shape: [...s.shape], data: this.kBias.get(s.name)!.dataSync().slice() as Float32Array });
      }
    }
    return out;
  }

  /**
   * Copy an official state dict (official layouts) into the model, one parameter at a time.
   * Throws `CheckpointError` listing missing, unexpected and mis-shaped keys (unexpected/missing
   * are tolerated with `strict: false`), or for an `lvl_1L` of other patch_nums; nothing is
   * changed then.
   */
  loadStateDict(sd: StateDict, opts: { strict?: boolean } = {}): void {
    this.assertAlive();
    checkStateDict(this.specs, sd, opts.strict ?? true);
    checkLevels(sd, this.derived.beginEnds, this.config.patchNums);
    for (const s of this.specs) {
      if (s.kind !== 'param' || !sd.has(s.name)) continue;
      const v = this.vars.get(s.name)!;
      tf.tidy(() => v.assign(weightTensor(rawToFloat32(s.name, sd.get(s.name)!), s.shape, s.linear ? 'transpose' : 'as-is')));
    }
    this.loadKBias(sd, false);
  }

  private loadKBias(sd: StateDict, release: boolean): void {
    for (const [name, t] of this.kBias) {
      const raw = sd.get(name);
      if (!raw) continue;
      t.dispose();
      this.kBias.set(name, tf.keep(tf.tensor(rawToFloat32(name, raw), raw.shape, 'float32')));
      if (release) sd.delete(name);
    }
  }

  /** @internal a parameter as stored (linear weights (in, out)); used by InferenceSession. */
  _param(name: string): tf.Tensor {
    return this.vars.get(name)!;
  }

  private w(name: string): tf.Tensor {
    return this.vars.get(name)!;
  }

  /** A linear weight, stored (in, out): what `linear` multiplies by. */
  private w2(name: string): tf.Tensor2D {
    return this.vars.get(name)! as tf.Tensor2D;
  }

  /** Free every variable and buffer. The model is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.vars.values()) v.dispose();
    for (const t of this.kBias.values()) t.dispose();
    this.vars.clear();
    this.kBias.clear();
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new ValueError('this VAR model has been disposed');
  }

  // ---------------------------------------------------------------- inputs

  /** Validated labels as an Int32Array (values in [0, numClasses]; numClasses = unconditional). */
  labelsToArray(labels: Labels, what = 'labels'): Int32Array {
    let arr: ArrayLike<number>;
    if (labels instanceof tf.Tensor) {
      if (labels.rank !== 1) throw new ShapeError(`${what}: expected a 1-D tensor (B), got shape [${labels.shape}]`);
      arr = labels.dataSync();
    } else {
      arr = labels;
    }
    const n = this.config.numClasses;
    const out = new Int32Array(arr.length);
    for (let i = 0; i < arr.length; i++) {
      const v = arr[i];
      if (!Number.isInteger(v)) throw new ValueError(`${what}[${i}] = ${v} is not an integer class index`);
      if (v < 0 || v > n)
        throw new ValueError(`${what}[${i}] = ${v} is out of range: expected 0..${n - 1}, or ${n} for the unconditional class`);
      out[i] = v;
    }
    if (out.length === 0) throw new ShapeError(`${what}: expected at least one label, got an empty batch`);
    return out;
  }

  /** cond (B, C) = class_emb[labels], as an exact one-hot product (differentiable on every backend). */
  private classEmbed(labels: Int32Array): tf.Tensor2D {
    const oh = tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), this.config.numClasses + 1), 'float32') as tf.Tensor2D;
    return tf.matMul(oh, this.w('class_emb.weight') as tf.Tensor2D);
  }

  /** lvl_embed(lvl_1L) + pos_1LC, rows [0, ed): (1, ed, C). */
  private lvlPos(ed: number): tf.Tensor3D {
    const { beginEnds } = this.derived;
    const S = this.config.patchNums.length;
    const oh = new Float32Array(ed * S);
    beginEnds.forEach(([b, e], si) => {
      for (let i = b; i < Math.min(e, ed); i++) oh[i * S + si] = 1;
    });
    const lvl = tf.matMul(tf.tensor2d(oh, [ed, S]), this.w('lvl_embed.weight') as tf.Tensor2D);
    const pos = tf.slice(this.w('pos_1LC'), [0, 0, 0], [1, ed, this.config.embedDim]);
    return tf.add(tf.reshape(lvl, [1, ed, this.config.embedDim]), pos) as tf.Tensor3D;
  }

  /** AdaLN parameters of every block and of the head, from cond (B, C). */
  private adaLN(cond: tf.Tensor2D): { blocks: AdaParts[]; headScale: tf.Tensor; headShift: tf.Tensor } {
    const C = this.config.embedDim;
    const B = cond.shape[0];
    const sc = silu(cond);
    const split6 = (t: tf.Tensor): AdaParts => {
      const [gamma1, gamma2, scale1, scale2, shift1, shift2] = tf
        .split(tf.reshape(t, [B, 1, 6, C]), 6, 2)
        .map((x) => tf.reshape(x, [B, 1, C]));
      return { gamma1, gamma2, scale1, scale2, shift1, shift2 };
    };
    const blocks: AdaParts[] = [];
    if (this.config.sharedAln) {
      const shared = tf.reshape(linear(sc, this.w2('shared_ada_lin.1.weight'), this.w('shared_ada_lin.1.bias')), [B, 1, 6, C]);
      for (let i = 0; i < this.config.depth; i++) blocks.push(split6(tf.add(this.w(`blocks.${i}.ada_gss`), shared)));
    } else {
      for (let i = 0; i < this.config.depth; i++)
        blocks.push(split6(linear(sc, this.w2(`blocks.${i}.ada_lin.1.weight`), this.w(`blocks.${i}.ada_lin.1.bias`))));
    }
    const [headScale, headShift] = tf
      .split(tf.reshape(linear(sc, this.w2('head_nm.ada_lin.1.weight'), this.w('head_nm.ada_lin.1.bias')), [B, 1, 2, C]), 2, 2)
      .map((x) => tf.reshape(x, [B, 1, C]));
    return { blocks, headScale, headShift };
  }

  /**
   * Self-attention of block i on h (B, Lq, C). With `cache`, new keys/values are appended to
   * it (incremental inference) and the queries see the whole cache.
   */
  private selfAttention(i: number, h: tf.Tensor3D, mask: AttentionMask, cache?: KVCache): tf.Tensor3D {
    const { numHeads: H, embedDim: C } = this.config;
    const { headDim: hd, attnScale, attnMaxScaleMul } = this.derived;
    const [B, L] = h.shape;
    const pre = `blocks.${i}.attn.`;
    const bias = tf.concat([this.w(pre + 'q_bias'), this.kBias.get(pre + 'zero_k_bias')!, this.w(pre + 'v_bias')]);
    const qkv = linear(h, this.w2(pre + 'mat_qkv.weight'), bias); // (B, L, 3C)
    // (B, L, 3C) → (B, 3H, L, hd) → q, k, v (B, H, L, hd); rank-4 transposes only (tfjs-wasm's rank-5 transpose is ~400× slower)
    const [q0, k0, v] = tf.split(tf.transpose(tf.reshape(qkv, [B, L, 3 * H, hd]), [0, 2, 1, 3]), 3, 1) as tf.Tensor4D[];
    let q = q0;
    let k = k0;
    if (attnMaxScaleMul !== null) {
      const scaleMul = tf.exp(tf.minimum(this.w(pre + 'scale_mul_1H11'), attnMaxScaleMul));
      q = tf.mul(l2n(q), scaleMul) as tf.Tensor4D;
      k = l2n(k) as tf.Tensor4D;
    }
    let kAll = k;
    let vAll = v;
    if (cache) {
      const prev = cache.get(i);
      if (prev) {
        kAll = tf.concat([prev.k, k], 2);
        vAll = tf.concat([prev.v, v], 2);
      }
      cache.set(i, kAll, vAll);
    }
    const o = attend(q, kAll, vAll, attnScale, mask, this.attentionImpl); // (B, H, L, hd)
    const oBLC = tf.reshape(tf.transpose(o, [0, 2, 1, 3]), [B, L, C]);
    return linear(oBLC, this.w2(pre + 'proj.weight'), this.w(pre + 'proj.bias')) as tf.Tensor3D;
  }

  /** One AdaLNSelfAttn block. `dropKeep` (B,1,1) scales the residual branches in training (drop-path). */
  private block(i: number, x: tf.Tensor3D, ada: AdaParts, mask: AttentionMask, cache?: KVCache, dropKeep?: tf.Tensor): tf.Tensor3D {
    const eps = this.config.normEps;
    const pre = `blocks.${i}.`;
    const h1 = tf.add(tf.mul(layerNorm(x, eps), tf.add(ada.scale1, 1)), ada.shift1) as tf.Tensor3D;
    let a = tf.mul(this.selfAttention(i, h1, mask, cache), ada.gamma1);
    if (dropKeep) a = tf.mul(a, dropKeep);
    x = tf.add(x, a) as tf.Tensor3D;
    const h2 = tf.add(tf.mul(layerNorm(x, eps), tf.add(ada.scale2, 1)), ada.shift2);
    const f1 = geluTanh(linear(h2, this.w2(pre + 'ffn.fc1.weight'), this.w(pre + 'ffn.fc1.bias')));
    let f = tf.mul(linear(f1, this.w2(pre + 'ffn.fc2.weight'), this.w(pre + 'ffn.fc2.bias')), ada.gamma2);
    if (dropKeep) f = tf.mul(f, dropKeep);
    return tf.add(x, f) as tf.Tensor3D;
  }

  private head(x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor): tf.Tensor3D {
    const h = tf.add(tf.mul(layerNorm(x, this.config.normEps), tf.add(scale, 1)), shift);
    return linear(h, this.w2('head.weight'), this.w('head.bias')) as tf.Tensor3D;
  }

  // ---------------------------------------------------------------- passes

  /**
   * Teacher-forced logits (B, L, V) (or (B, end of scale progSi, V) in progressive training).
   * @param labels int32 class labels (B); `numClasses` is the unconditional class
   * @param xBLCv teacher-forcing input (B, L − firstL, Cvae): word-embedding inputs of scales 1..S−1
   */
  forward(labels: Labels, xBLCv: tf.Tensor3D, opts: ForwardOptions = {}): tf.Tensor3D {
    this.assertAlive();
    const lab = this.labelsToArray(labels);
    const B = lab.length;
    const { L, firstL, beginEnds } = this.derived;
    const { Cvae, embedDim: C, numClasses, condDropRate } = this.config;
    const progSi = opts.progSi ?? -1;
    if (!Number.isInteger(progSi) || progSi < -1 || progSi >= beginEnds.length) {
      throw new ValueError(`progSi must be -1 or a scale index 0..${beginEnds.length - 1}, got ${progSi}`);
    }
    const ed = progSi >= 0 ? beginEnds[progSi][1] : L;
    if (
      !(xBLCv instanceof tf.Tensor) ||
      xBLCv.rank !== 3 ||
      xBLCv.shape[0] !== B ||
      xBLCv.shape[2] !== Cvae ||
      (xBLCv.shape[1] !== L - firstL && xBLCv.shape[1] !== ed - firstL)
    ) {
      throw new ShapeError(
        `xBLCv: expected (B=${B}, L-first_l=${L - firstL}, Cvae=${Cvae})${ed !== L ? ` or (${B}, ${ed - firstL}, ${Cvae})` : ''}, got ${xBLCv instanceof tf.Tensor ? `[${xBLCv.shape}]` : typeof xBLCv}`,
      );
    }
    if (xBLCv.dtype !== 'float32') throw new ShapeError(`xBLCv: expected float32, got ${xBLCv.dtype}`);
    const training = opts.training ?? false;
    const rng = training ? (opts.rng === undefined ? this.trainRng : toRng(opts.rng)) : undefined;
    if (rng && condDropRate > 0) {
      for (let b = 0; b < B; b++) if (rng.random() < condDropRate) lab[b] = numClasses;
    }
    const dpr = this.config.dropPathRate ?? 0;
    const keepMasks: (Float32Array | null)[] = [];
    for (let i = 0; i < this.config.depth; i++) {
      const p = this.config.depth > 1 ? (dpr * i) / (this.config.depth - 1) : 0;
      if (!rng || p <= 0) {
        keepMasks.push(null);
        continue;
      }
      const m = new Float32Array(B);
      for (let b = 0; b < B; b++) m[b] = rng.random() < 1 - p ? 1 / (1 - p) : 0;
      keepMasks.push(m);
    }
    return tf.tidy(() => {
      const cond = this.classEmbed(lab);
      const sos = tf.add(tf.reshape(cond, [B, 1, C]), this.w('pos_start'));
      let x: tf.Tensor3D;
      if (progSi === 0) x = sos as tf.Tensor3D;
      else {
        const xin = xBLCv.shape[1] === ed - firstL ? xBLCv : tf.slice(xBLCv, [0, 0, 0], [B, ed - firstL, Cvae]);
        x = tf.concat([sos, linear(xin, this.w2('word_embed.weight'), this.w('word_embed.bias'))], 1) as tf.Tensor3D;
      }
      x = tf.add(x, this.lvlPos(ed)) as tf.Tensor3D;
      const ada = this.adaLN(cond);
      const mask: AttentionMask = { blocks: progSi >= 0 ? beginEnds.slice(0, progSi + 1) : beginEnds, kvOffset: 0 };
      for (let i = 0; i < this.config.depth; i++) {
        const km = keepMasks[i];
        const xi = x;
        // one scope per block: its activations are freed as it ends
        x = tf.tidy(() => this.block(i, xi, ada.blocks[i], mask, undefined, km ? tf.tensor3d(km, [B, 1, 1]) : undefined));
      }
      return this.head(x, ada.headScale, ada.headShift);
    });
  }

  /**
   * Start scale-by-scale inference with a KV cache. `labels` (B') may mix classes and the
   * unconditional class `numClasses` (CFG: `[l_0..l_{B-1}, numClasses × B]`).
   */
  startInference(labels: Int32Array | number[]): InferenceSession {
    this.assertAlive();
    return new InferenceSession(this, this.labelsToArray(labels));
  }

  /** @internal used by InferenceSession: the per-session tensors (class embedding, AdaLN parameters, level + position embeddings). */
  _sessionParts(labels: Int32Array): { cond: tf.Tensor2D; ada: ReturnType<VAR['adaLN']>; lvlPos: tf.Tensor3D; dispose: () => void } {
    const kept: tf.Tensor[] = [];
    const keep = <T extends tf.Tensor>(t: T): T => {
      kept.push(tf.keep(t));
      return t;
    };
    let parts!: { cond: tf.Tensor2D; ada: ReturnType<VAR['adaLN']>; lvlPos: tf.Tensor3D };
    tf.tidy(() => {
      const cond = keep(this.classEmbed(labels));
      const ada = this.adaLN(cond);
      for (const b of ada.blocks) Object.values(b).forEach((t) => keep(t as tf.Tensor));
      keep(ada.headScale);
      keep(ada.headShift);
      const lvlPos = keep(this.lvlPos(this.derived.L));
      parts = { cond, ada, lvlPos };
    });
    return {
      ...parts,
      dispose: () => {
        for (const t of kept) t.dispose();
      },
    };
  }

  /** @internal one scale through the blocks and the head with the session's cache. */
  _sessionStep(parts: ReturnType<VAR['_sessionParts']>, cache: KVCache, x: tf.Tensor3D): tf.Tensor3D {
    let h = x;
    const mask: AttentionMask = { blocks: null, kvOffset: 0 };
    for (let i = 0; i < this.config.depth; i++) {
      const hi = h;
      h = tf.tidy(() => this.block(i, hi, parts.ada.blocks[i], mask, cache));
    }
    return this.head(h, parts.ada.headScale, parts.ada.headShift);
  }
}

function l2n(x: tf.Tensor): tf.Tensor {
  const norm = tf.sqrt(tf.sum(tf.square(x), -1, true));
  return tf.div(x, tf.maximum(norm, 1e-12));
}

/** Throw CheckpointError when a state dict's `lvl_1L` puts a token in another scale than `beginEnds` (other patch_nums). */
function checkLevels(sd: StateDict, beginEnds: [number, number][], patchNums: number[]): void {
  const lvl = sd.get('lvl_1L');
  if (!lvl) return;
  const d = lvl.data as ArrayLike<number | bigint>;
  for (let si = 0; si < beginEnds.length; si++) {
    for (let i = beginEnds[si][0]; i < beginEnds[si][1]; i++) {
      if (Number(d[i]) !== si)
        throw new CheckpointError(
          `lvl_1L[0, ${i}] = ${String(d[i])} but patch_nums ${JSON.stringify(patchNums)} put token ${i} in scale ${si}: the checkpoint was made for other patch_nums`,
        );
    }
  }
}

/** attn_bias_for_masking: 0 where key scale ≤ query scale, −∞ elsewhere, (L·L). */
export function blockCausalBias(beginEnds: [number, number][], L: number): Float32Array {
  const m = new Float32Array(L * L).fill(-Infinity);
  for (const [b, e] of beginEnds) for (let r = b; r < e; r++) m.fill(0, r * L, r * L + e);
  return m;
}

class KVCache {
  private store = new Map<number, { k: tf.Tensor4D; v: tf.Tensor4D }>();
  get(i: number) {
    return this.store.get(i);
  }
  set(i: number, k: tf.Tensor4D, v: tf.Tensor4D) {
    const old = this.store.get(i);
    this.store.set(i, { k: tf.keep(k), v: tf.keep(v) });
    if (old) {
      if (old.k !== k) old.k.dispose();
      if (old.v !== v) old.v.dispose();
    }
  }
  length(): number {
    const f = this.store.get(0);
    return f ? f.k.shape[2] : 0;
  }
  dispose() {
    for (const { k, v } of this.store.values()) {
      k.dispose();
      v.dispose();
    }
    this.store.clear();
  }
}

/** Incremental (KV-cached) inference, one scale at a time. Call `step(0, null)`, `step(1, x1)`, … in order. */
export class InferenceSession {
  readonly labels: Int32Array;
  private nextSi = 0;
  private cache = new KVCache();
  private parts: ReturnType<VAR['_sessionParts']> | null;
  constructor(
    private readonly model: VAR,
    labels: Int32Array,
  ) {
    this.labels = labels;
    this.parts = model._sessionParts(labels);
  }

  /** Index of the scale the next `step` must be called with. */
  get nextScale(): number {
    return this.nextSi;
  }

  /**
   * Logits (B', pn², V) of scale `si`.
   * @param x null at si = 0; else the next-scale input (B', pn², Cvae): area-downsampled f_hat, flattened row-major
   */
  step(si: number, x: tf.Tensor3D | null): tf.Tensor3D {
    if (!this.parts) throw new ValueError('InferenceSession.step: the session has been disposed');
    const { patchNums, Cvae, embedDim: C } = this.model.config;
    const { beginEnds, firstL } = this.model.derived;
    if (si !== this.nextSi)
      throw new ValueError(
        `InferenceSession.step: expected scale ${this.nextSi} next (scales run in order 0..${patchNums.length - 1}), got ${si}`,
      );
    const B = this.labels.length;
    const [b, e] = beginEnds[si];
    if (si === 0) {
      if (x !== null && x !== undefined) throw new ShapeError('InferenceSession.step(0, x): the first scale takes no input (pass null)');
    } else if (!(x instanceof tf.Tensor) || x.rank !== 3 || x.shape[0] !== B || x.shape[1] !== e - b || x.shape[2] !== Cvae) {
      throw new ShapeError(
        `InferenceSession.step(${si}): expected x of shape (B'=${B}, pn²=${e - b}, Cvae=${Cvae}), got ${x instanceof tf.Tensor ? `[${x.shape}]` : String(x)}`,
      );
    }
    const parts = this.parts;
    const out = tf.tidy(() => {
      let tok: tf.Tensor3D;
      if (si === 0) {
        const sos = tf.add(tf.reshape(parts.cond, [B, 1, C]), this.model._param('pos_start'));
        tok = tf.add(sos, tf.slice(parts.lvlPos, [0, 0, 0], [1, firstL, C])) as tf.Tensor3D;
      } else {
        tok = tf.add(
          linear(x!, this.model._param('word_embed.weight') as tf.Tensor2D, this.model._param('word_embed.bias')),
          tf.slice(parts.lvlPos, [0, b, 0], [1, e - b, C]),
        ) as tf.Tensor3D;
      }
      return this.model._sessionStep(parts, this.cache, tok);
    });
    this.nextSi++;
    return out;
  }

  /** Free the KV cache and the per-session tensors. */
  dispose(): void {
    this.cache.dispose();
    this.parts?.dispose();
    this.parts = null;
  }
}
