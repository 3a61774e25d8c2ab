/**
 * The multi-scale residual quantiser of VAR (official `VectorQuantizer2`,
 * models/quant.py). Public tensors are NCHW like the official code.
 *
 * For every scale si (patch size pn, small to large) the residual f_rest is
 * area-downsampled to pn x pn (not at the last scale), each position takes the
 * nearest codebook entry (argmin ||z||² + ||e||² − 2 z·e in float32, or the largest
 * cosine similarity with `usingZnorm`), the chosen embedding map is bicubic-upsampled
 * to the last scale (not at the last scale), refined by phi and added to f_hat.
 */
import * as tf from '@tensorflow/tfjs-core';
import { interpolate, ShapeError, ValueError } from '@var/core';
import { assertFinite, assertIdxList, assertNCHW, assertTensor, fmt } from './checks.js';
import { phiLayout, type PhiLayout, type VQVAEConfig } from './config.js';
import { convOp, type ParamMap } from './nn.js';

/** Gradient barrier (PyTorch `.detach()`): identity forward, zero gradient. */
export const stopGradient: (x: tf.Tensor) => tf.Tensor = tf.customGrad(((x: tf.Tensor) => {
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as never) as unknown as (x: tf.Tensor) => tf.Tensor;

/**
 * Codebook lookup whose gradient w.r.t. the codebook is a one-hot matMul (the wasm
 * backend has no UnsortedSegmentSum kernel, which tf.gather's gradient needs).
 */
const lookupWithGrad = tf.customGrad(((codebook: tf.Tensor, idx: tf.Tensor, save: tf.GradSaveFunc) => {
  save([idx]);
  const V = codebook.shape[0];
  return {
    value: tf.gather(codebook, idx),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const oneHot = tf.oneHot(saved[0] as tf.Tensor1D, V); // (N, V) int32
      return [tf.matMul(tf.cast(oneHot, 'float32'), dy as tf.Tensor2D, true, false), tf.zeros(saved[0].shape)];
    },
  };
}) as never) as unknown as (codebook: tf.Tensor2D, idx: tf.Tensor1D) => tf.Tensor2D;

function nearestImpl(zNC: tf.Tensor2D, E: tf.Tensor2D, znorm: boolean): tf.Tensor1D {
  if (znorm) {
    const zn = tf.div(zNC, tf.maximum(tf.sqrt(tf.sum(tf.square(zNC), 1, true)), 1e-12));
    const en = tf.div(E, tf.maximum(tf.sqrt(tf.sum(tf.square(E), 1, true)), 1e-12));
    return tf.argMax(tf.matMul(zn, en, false, true), 1) as tf.Tensor1D;
  }
  // official: ||z||² + ||e||² − 2 z·e (addmm with alpha=-2, beta=1), argmin, float32
  const zz = tf.sum(tf.square(zNC), 1, true); // (N,1)
  const ee = tf.sum(tf.square(E), 1); // (V)
  const d = tf.add(tf.add(zz, ee), tf.mul(tf.matMul(zNC, E, false, true), -2));
  return tf.argMin(d, 1) as tf.Tensor1D;
}

const nearestGrad = new Map<boolean, (z: tf.Tensor2D, E: tf.Tensor2D) => tf.Tensor1D>(
  [false, true].map((znorm) => [
    znorm,
    tf.customGrad(((z: tf.Tensor2D, E: tf.Tensor2D) => ({
      value: nearestImpl(z, E, znorm),
      gradFunc: () => [tf.zeros(z.shape), tf.zeros(E.shape)],
    })) as never) as unknown as (z: tf.Tensor2D, E: tf.Tensor2D) => tf.Tensor1D,
  ]),
);

/** Nearest codebook row of every row of z: (N, C), (V, C) → (N) int32. */
export function nearestCode(zNC: tf.Tensor2D, E: tf.Tensor2D, znorm: boolean): tf.Tensor1D {
  return nearestGrad.get(znorm)!(zNC, E);
}

/** Result of the quantiser's training forward pass. */
export interface QuantizerTrainOutput {
  /** f_hat with the straight-through estimator: value f_hat, gradient passed to f unchanged. (B,Cvae,H,W) */
  fHat: tf.Tensor4D;
  /** mean over scales of beta·mse(f_hat.detach(), f) + mse(f_hat, f.detach()). Scalar. */
  vqLoss: tf.Scalar;
  /** Token indices per scale (B, pn*pn). */
  idx: tf.Tensor2D[];
}

export class MultiScaleQuantizer {
  /** Token-map side per scale, small to large. */
  readonly vPatchNums: readonly number[];
  /** Codebook size V. */
  readonly vocabSize: number;
  /** Latent channels. */
  readonly Cvae: number;
  readonly usingZnorm: boolean;
  readonly beta: number;
  /** Which phi module each scale uses. */
  readonly phi: PhiLayout;
  /** |quantResi|: phi(h) = (1-r)·h + r·conv(h). */
  readonly resiRatio: number;
  /** `quantize.ema_vocab_hit_SV` (S, V): a training statistic kept for checkpoint round trips. */
  emaVocabHit: Float32Array;

  constructor(
    private readonly params: ParamMap,
    config: VQVAEConfig,
  ) {
    this.vPatchNums = Object.freeze([...config.vPatchNums]);
    this.vocabSize = config.vocabSize;
    this.Cvae = config.zChannels;
    this.usingZnorm = config.usingZnorm;
    this.beta = config.beta;
    this.phi = phiLayout(config);
    this.resiRatio = Math.abs(config.quantResi);
    this.emaVocabHit = new Float32Array(this.vPatchNums.length * this.vocabSize);
  }

  /** Number of scales S. */
  get numScales(): number {
    return this.vPatchNums.length;
  }

  /** Side of the last (largest) token map = latent size. */
  get finalSize(): number {
    return this.vPatchNums[this.vPatchNums.length - 1];
  }

  /** The codebook variable (V, Cvae). */
  get codebook(): tf.Variable {
    return this.params.get('quantize.embedding.weight')!;
  }

  // ------------------------------------------------------------------ primitives (no checks, no tidy)

  /** phi of scale si applied to h (B,C,H,W). */
  private applyPhi(si: number, h: tf.Tensor4D): tf.Tensor4D {
    if (this.phi.identity) return h;
    const prefix = this.phi.prefix(this.phi.indexPerScale[si]);
    const w = this.params.get(`${prefix}.weight`)! as unknown as tf.Tensor4D;
    const b = this.params.get(`${prefix}.bias`)! as unknown as tf.Tensor1D;
    const nhwc = tf.transpose(h, [0, 2, 3, 1]) as tf.Tensor4D;
    const c = tf.transpose(convOp(nhwc, w, b, 1, (w.shape[0] - 1) / 2), [0, 3, 1, 2]) as tf.Tensor4D;
    return tf.add(tf.mul(h, 1 - this.resiRatio), tf.mul(c, this.resiRatio));
  }

  /** (N, C) → nearest code index (N) int32; not differentiable (zero gradients, nothing recorded on the tape). */
  private nearest(zNC: tf.Tensor2D): tf.Tensor1D {
    return nearestCode(zNC, this.codebook as unknown as tf.Tensor2D, this.usingZnorm);
  }

  /** f_rest (B,C,H,W) → z (B*pn*pn, C) at scale si. */
  private residualAt(si: number, fRest: tf.Tensor4D): tf.Tensor2D {
    const pn = this.vPatchNums[si];
    const last = si === this.numScales - 1;
    const z = last ? fRest : interpolate(fRest, [pn, pn], 'area');
    return tf.reshape(tf.transpose(z, [0, 2, 3, 1]), [-1, this.Cvae]);
  }

  /** Rows of the codebook (N, C) reshaped to an NCHW map (B, C, pn, pn). */
  private rowsToMap(rows: tf.Tensor2D, B: number, pn: number): tf.Tensor4D {
    return tf.transpose(tf.reshape(rows, [B, pn, pn, this.Cvae]), [0, 3, 1, 2]);
  }

  /** Embedding map of scale si brought to the last scale and refined by phi. */
  private hAt(si: number, hPn: tf.Tensor4D): tf.Tensor4D {
    const H = this.finalSize;
    const up = si === this.numScales - 1 ? hPn : interpolate(hPn, [H, H], 'bicubic');
    return this.applyPhi(si, up);
  }

  private checkLatent(what: string, f: unknown): asserts f is tf.Tensor4D {
    assertNCHW(what, f, this.Cvae, '(B, Cvae, H, W)');
    const H = this.finalSize;
    if (f.shape[2] !== H || f.shape[3] !== H) {
      throw new ShapeError(
        `${what} must be ${H}x${H} (the last patch num of ${JSON.stringify(this.vPatchNums)}); got shape ${fmt(f.shape)}`,
      );
    }
  }

  private quantize(f: tf.Tensor4D, wantIdx: boolean, wantFhat: boolean): { idx: tf.Tensor2D[]; fHat: tf.Tensor4D[] } {
    const B = f.shape[0];
    const idx: tf.Tensor2D[] = [];
    const fHats: tf.Tensor4D[] = [];
    let fRest: tf.Tensor4D = f;
    let fHat: tf.Tensor4D = tf.zeros(f.shape);
    for (let si = 0; si < this.numScales; si++) {
      const pn = this.vPatchNums[si];
      const id = this.nearest(this.residualAt(si, fRest));
      const h = this.hAt(si, this.rowsToMap(tf.gather(this.codebook, id) as tf.Tensor2D, B, pn));
      fHat = tf.add(fHat, h);
      fRest = tf.sub(fRest, h);
      if (wantIdx) idx.push(tf.reshape(id, [B, pn * pn]));
      if (wantFhat) fHats.push(fHat);
    }
    return { idx, fHat: fHats };
  }

  // ------------------------------------------------------------------ public API

  /** Codebook lookup: idx (B, pn*pn) int32 → (B, Cvae, pn, pn). */
  embed(idx: tf.Tensor2D, pn: number): tf.Tensor4D {
    assertTensor('embed: idx', idx);
    if (!Number.isInteger(pn) || pn <= 0) throw new ValueError(`embed: pn must be a positive integer; got ${pn}`);
    if (idx.dtype !== 'int32') throw new ValueError(`embed: idx must be int32; got ${idx.dtype}`);
    if (idx.rank !== 2 || idx.shape[1] !== pn * pn)
      throw new ShapeError(`embed: idx must have shape (B, ${pn * pn}) for pn=${pn}; got ${fmt(idx.shape)}`);
    assertIdxList('embed: idx', [idx], [pn], this.vocabSize, 1);
    return tf.tidy(() => this.rowsToMap(tf.gather(this.codebook, tf.reshape(idx, [-1])) as tf.Tensor2D, idx.shape[0], pn));
  }

  /** phi of scale `si` applied to h (B, Cvae, H, W) (official `quant_resi[si/(S-1)](h)`). */
  phiAt(si: number, h: tf.Tensor4D): tf.Tensor4D {
    this.checkScale('phiAt', si);
    assertNCHW('phiAt: h', h, this.Cvae, '(B, Cvae, H, W)');
    return tf.tidy(() => {
      const out = this.applyPhi(si, h);
      return out === h ? tf.clone(h) : out;
    });
  }

  /** Token indices of every scale, (B, pn*pn) int32 row-major (official `f_to_idxBl_or_fhat(f, to_fhat=False)`). */
  fToIdx(f: tf.Tensor4D): tf.Tensor2D[] {
    this.checkLatent('fToIdx: f', f);
    assertFinite('fToIdx: f', f);
    return tf.tidy(() => this.quantize(f, true, false).idx);
  }

  /** Cumulative f_hat after every scale (official `f_to_idxBl_or_fhat(f, to_fhat=True)`). */
  fToFhatPerScale(f: tf.Tensor4D): tf.Tensor4D[] {
    this.checkLatent('fToFhatPerScale: f', f);
    assertFinite('fToFhatPerScale: f', f);
    return tf.tidy(() => this.quantize(f, false, true).fHat);
  }

  /** Both token indices and per-scale f_hat in one pass. */
  fToIdxAndFhat(f: tf.Tensor4D): { idx: tf.Tensor2D[]; fHat: tf.Tensor4D[] } {
    this.checkLatent('fToIdxAndFhat: f', f);
    assertFinite('fToIdxAndFhat: f', f);
    const out = tf.tidy(() => {
      const r = this.quantize(f, true, true);
      return [...r.idx, ...r.fHat];
    });
    const S = this.numScales;
    return { idx: out.slice(0, S) as tf.Tensor2D[], fHat: out.slice(S) as tf.Tensor4D[] };
  }

  /** Cumulative f_hat after each scale from token indices (official `embed_to_fhat(all_to_max_scale=True, last_one=False)`). */
  idxToFhatPerScale(idx: tf.Tensor2D[]): tf.Tensor4D[] {
    const B = assertIdxList('idxToFhatPerScale: idx', idx, this.vPatchNums, this.vocabSize);
    return tf.tidy(() => {
      const H = this.finalSize;
      let fHat: tf.Tensor4D = tf.zeros([B, this.Cvae, H, H]);
      const out: tf.Tensor4D[] = [];
      for (let si = 0; si < this.numScales; si++) {
        const pn = this.vPatchNums[si];
        fHat = tf.add(fHat, this.hAt(si, this.rowsToMap(tf.gather(this.codebook, tf.reshape(idx[si], [-1])) as tf.Tensor2D, B, pn)));
        out.push(fHat);
      }
      return out;
    });
  }

  /** Final f_hat from token indices of all scales. */
  idxToFhat(idx: tf.Tensor2D[]): tf.Tensor4D {
    const all = this.idxToFhatPerScale(idx);
    for (let i = 0; i < all.length - 1; i++) all[i].dispose();
    return all[all.length - 1];
  }

  /**
   * Teacher-forcing input of the VAR transformer (official `idxBl_to_var_input`):
   * for si = 0..S-2, f_hat += phi(bicubic(embed(idx[si]))) and the area-downsampled f_hat
   * at the next scale, flattened row-major, concatenated: (B, L - pn0², Cvae).
   * Only idx[0..S-2] are used; idx may hold S or S-1 maps.
   */
  idxToVarInput(idx: tf.Tensor2D[]): tf.Tensor3D {
    const S = this.numScales;
    const n = Array.isArray(idx) && idx.length === S ? S : S - 1;
    const B = assertIdxList('idxToVarInput: idx', idx, this.vPatchNums, this.vocabSize, n);
    return tf.tidy(() => {
      const H = this.finalSize;
      let fHat: tf.Tensor4D = tf.zeros([B, this.Cvae, H, H]);
      const parts: tf.Tensor3D[] = [];
      for (let si = 0; si < S - 1; si++) {
        const pn = this.vPatchNums[si];
        const up = interpolate(
          this.rowsToMap(tf.gather(this.codebook, tf.reshape(idx[si], [-1])) as tf.Tensor2D, B, pn),
          [H, H],
          'bicubic',
        );
        fHat = tf.add(fHat, this.applyPhi(si, up));
        const next = this.vPatchNums[si + 1];
        const ds = interpolate(fHat, [next, next], 'area');
        parts.push(tf.transpose(tf.reshape(ds, [B, this.Cvae, next * next]), [0, 2, 1]));
      }
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1);
    });
  }

  /**
   * One step of autoregressive decoding (official `get_next_autoregressive_input`):
   * f_hat += phi(upsample(h)) (no upsampling at the last scale); `next` is f_hat
   * area-downsampled to the next scale's pn (null after the last scale).
   * Returns new tensors; the caller keeps ownership of (and disposes) `fHat` and `hBChw`.
   *
   * @param si scale index 0..S-1
   * @param fHat (B, Cvae, H, W) cumulative f_hat so far, or null at si = 0 (zeros)
   * @param hBChw (B, Cvae, pn, pn) embedding map of the tokens chosen at scale si
   */
  nextAutoregressiveInput(si: number, fHat: tf.Tensor4D | null, hBChw: tf.Tensor4D): { fHat: tf.Tensor4D; next: tf.Tensor4D | null } {
    this.checkScale('nextAutoregressiveInput', si);
    const pn = this.vPatchNums[si];
    assertNCHW('nextAutoregressiveInput: hBChw', hBChw, this.Cvae, '(B, Cvae, pn, pn)');
    if (hBChw.shape[2] !== pn || hBChw.shape[3] !== pn) {
      throw new ShapeError(`nextAutoregressiveInput: hBChw at scale ${si} must be ${pn}x${pn}; got shape ${fmt(hBChw.shape)}`);
    }
    const B = hBChw.shape[0];
    if (fHat !== null && fHat !== undefined) {
      this.checkLatent('nextAutoregressiveInput: fHat', fHat);
      if (fHat.shape[0] !== B)
        throw new ShapeError(`nextAutoregressiveInput: batch mismatch: fHat has B=${fHat.shape[0]}, hBChw has B=${B}`);
    }
    const last = si === this.numScales - 1;
    const out = tf.tidy(() => {
      const H = this.finalSize;
      const base = fHat ?? tf.zeros([B, this.Cvae, H, H]);
      const nf = tf.add(base, this.hAt(si, hBChw)) as tf.Tensor4D;
      if (last) return [nf];
      const p = this.vPatchNums[si + 1];
      return [nf, interpolate(nf, [p, p], 'area')];
    });
    return { fHat: out[0], next: last ? null : out[1] };
  }

  /**
   * Training forward pass (official `VectorQuantizer2.forward`): token choice on the
   * detached f, vq loss = mean over scales of beta·mse(f_hat.detach(), f) + mse(f_hat, f.detach()),
   * output f_hat with the straight-through estimator. Differentiable w.r.t. f, the
   * codebook and phi; call it inside a gradient scope (no tidy of its own).
   */
  forwardTrain(f: tf.Tensor4D): QuantizerTrainOutput {
    this.checkLatent('forwardTrain: f', f);
    const B = f.shape[0];
    const fNoGrad = stopGradient(f) as tf.Tensor4D;
    let fRest: tf.Tensor4D = fNoGrad;
    let fHat: tf.Tensor4D = tf.zeros(f.shape);
    let loss: tf.Scalar = tf.scalar(0);
    const idx: tf.Tensor2D[] = [];
    for (let si = 0; si < this.numScales; si++) {
      const pn = this.vPatchNums[si];
      const id = this.nearest(this.residualAt(si, fRest));
      const rows = lookupWithGrad(this.codebook as unknown as tf.Tensor2D, id);
      const h = this.hAt(si, this.rowsToMap(rows, B, pn));
      fHat = tf.add(fHat, h);
      fRest = tf.sub(fRest, stopGradient(h)) as tf.Tensor4D;
      const commit = tf.mean(tf.squaredDifference(stopGradient(fHat), f));
      const codebook = tf.mean(tf.squaredDifference(fHat, fNoGrad));
      loss = tf.add(loss, tf.add(tf.mul(commit, this.beta), codebook));
      idx.push(tf.reshape(id, [B, pn * pn]));
    }
    const vqLoss = tf.mul(loss, 1 / this.numScales) as tf.Scalar;
    const ste = tf.add(stopGradient(tf.sub(fHat, fNoGrad)), f) as tf.Tensor4D;
    return { fHat: ste, vqLoss, idx };
  }

  private checkScale(what: string, si: number): void {
    if (!Number.isInteger(si) || si < 0 || si >= this.numScales) {
      throw new ValueError(`${what}: scale index si must be an integer in [0, ${this.numScales - 1}]; got ${si}`);
    }
  }
}
