/**
 * Building blocks of the official VQVAE encoder / decoder (models/basic_vae.py),
 * computed in NHWC (the layout tfjs convolutions run in). Convolution weights are
 * held as (kh, kw, in, out) variables; everything else as in PyTorch.
 *
 * These functions allocate intermediate tensors and must run inside `tf.tidy` (or a
 * gradient scope); they are internal to the package.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { VQVAEConfig } from './config.js';

/** Parameters by official state-dict name (conv weights in HWIO layout). */
export type ParamMap = ReadonlyMap<string, tf.Variable>;

/** Options of a forward pass through encoder / decoder. */
export interface ForwardOptions {
  /** Training mode: dropout active (when the config has dropout > 0). */
  training?: boolean;
  /** Seed source for dropout masks (called once per dropout). */
  nextSeed?: () => number;
}

export const GROUPS = 32;
export const GN_EPS = 1e-6;

function param(p: ParamMap, name: string): tf.Variable {
  const v = p.get(name);
  if (!v) throw new Error(`internal: parameter ${name} missing`);
  return v;
}

/**
 * Conv2d with bias on NHWC input, stride 1 or 2, symmetric zero padding `pad`, HWIO
 * filter: tfjs' fused conv. Its gradients are tfjs' own; their speed on each backend is
 * @var/core's concern (the Conv2DBackpropInput / Conv2DBackpropFilter kernels `initBackend`
 * registers for wasm).
 */
export function convOp(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, stride: number, pad: number): tf.Tensor4D {
  const padArg =
    pad === 0
      ? 'valid'
      : ([
          [0, 0],
          [pad, pad],
          [pad, pad],
          [0, 0],
        ] as [[number, number], [number, number], [number, number], [number, number]]);
  return tf.fused.conv2d({ x, filter: w, strides: stride, pad: padArg, bias: b });
}

/** Conv2d with bias by parameter prefix: stride 1 keeps the size (padding k//2); `valid` = no padding. */
export function conv(p: ParamMap, prefix: string, x: tf.Tensor4D, opts: { stride?: 1 | 2; pad?: 'same' | 'valid' } = {}): tf.Tensor4D {
  const w = param(p, `${prefix}.weight`) as unknown as tf.Tensor4D;
  const b = param(p, `${prefix}.bias`) as unknown as tf.Tensor1D;
  const k = w.shape[0];
  const pad = (opts.pad ?? 'same') === 'same' ? (k - 1) / 2 : 0;
  return convOp(x, w, b, opts.stride ?? 1, pad);
}

/**
 * Per-channel mean over H and W, (B,H,W,C) → (B,1,1,C): a global average pool (reads
 * NHWC in place). Its gradient is tfjs' AvgPoolGrad (on wasm @var/core's nearest-upsampling
 * kernel for non-overlapping windows).
 */
function spatialMean(x: tf.Tensor4D): tf.Tensor4D {
  const [, H, W] = x.shape;
  return tf.avgPool(x, [H, W], [H, W], 'valid');
}

/**
 * GroupNorm(32 groups, eps 1e-6, affine) over NHWC, two-pass (mean, then mean of
 * squared deviations) like PyTorch. Per-channel spatial means come from a global
 * average pool, which reads NHWC in place (a reduction over H, W would transpose the
 * whole activation first) and accumulates more accurately than wasm's Mean.
 */
export function groupNorm(p: ParamMap, prefix: string, x: tf.Tensor4D): tf.Tensor4D {
  const [B, _H, _W, C] = x.shape;
  const cg = C / GROUPS;
  const perGroup = (t: tf.Tensor) => tf.mean(tf.reshape(t, [B, GROUPS, cg]), 2, true); // (B,1,1,C) → (B,G,1)
  const toChannels = (t: tf.Tensor) => tf.reshape(cg === 1 ? t : tf.tile(t, [1, 1, cg]), [B, 1, 1, C]);
  const mean = toChannels(perGroup(spatialMean(x))); // (B,1,1,C)
  const variance = toChannels(perGroup(spatialMean(tf.square(tf.sub(x, mean)) as tf.Tensor4D)));
  const gamma = tf.reshape(param(p, `${prefix}.weight`), [1, 1, 1, C]);
  const beta = tf.reshape(param(p, `${prefix}.bias`), [1, 1, 1, C]);
  // y = (x - mean) * rstd * gamma + beta = x * a + (beta - mean * a), a = rstd * gamma
  const a = tf.mul(tf.rsqrt(tf.add(variance, GN_EPS)), gamma); // (B,1,1,C)
  const c = tf.sub(beta, tf.mul(mean, a));
  return tf.add(tf.mul(x, a), c) as tf.Tensor4D;
}

/** SiLU / swish: x * sigmoid(x). */
export function silu(x: tf.Tensor4D): tf.Tensor4D {
  return tf.mul(x, tf.sigmoid(x));
}

/** Official ResnetBlock: x + conv2(drop(silu(norm2(conv1(silu(norm1(x))))))) with a 1x1 shortcut when channels change. */
export function resnetBlock(p: ParamMap, prefix: string, x: tf.Tensor4D, dropout: number, opts: ForwardOptions): tf.Tensor4D {
  let h = conv(p, `${prefix}.conv1`, silu(groupNorm(p, `${prefix}.norm1`, x)));
  h = silu(groupNorm(p, `${prefix}.norm2`, h));
  if (opts.training && dropout > 1e-6) h = tf.dropout(h, dropout, undefined, opts.nextSeed?.()) as tf.Tensor4D;
  h = conv(p, `${prefix}.conv2`, h);
  const skip = p.has(`${prefix}.nin_shortcut.weight`) ? conv(p, `${prefix}.nin_shortcut`, x) : x;
  return tf.add(skip, h) as tf.Tensor4D;
}

/**
 * Official AttnBlock (single head over all H*W positions, scale C^-0.5), one 2-D
 * matMul pair per batch item (no batched matMul).
 */
export function attnBlock(p: ParamMap, prefix: string, x: tf.Tensor4D): tf.Tensor4D {
  const [B, H, W, C] = x.shape;
  const N = H * W;
  const qkv = conv(p, `${prefix}.qkv`, groupNorm(p, `${prefix}.norm`, x)); // (B,H,W,3C): channels [q | k | v]
  const flat = tf.reshape(qkv, [B * N, 3 * C]);
  const scale = 1 / Math.sqrt(C);
  const outs: tf.Tensor2D[] = [];
  for (let b = 0; b < B; b++) {
    const rows = B === 1 ? flat : tf.slice(flat, [b * N, 0], [N, 3 * C]);
    const [q, k, v] = tf.split(rows, 3, 1) as tf.Tensor2D[];
    const w = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale)); // (N, N), softmax over keys
    outs.push(tf.matMul(w, v)); // (N, C)
  }
  const h = tf.reshape(B === 1 ? outs[0] : tf.concat(outs, 0), [B, H, W, C]) as tf.Tensor4D;
  return tf.add(x, conv(p, `${prefix}.proj_out`, h)) as tf.Tensor4D;
}

/**
 * Nearest 2x upsampling (PyTorch `F.interpolate(scale_factor=2, mode='nearest')`):
 * resizeNearestNeighbor forward; the gradient (sum over each 2x2 block) is an average
 * pool x 4 (wasm's ResizeNearestNeighborGrad gives wrong values in tfjs 4.22).
 */
export const upsample2x: (x: tf.Tensor4D) => tf.Tensor4D = tf.customGrad(((x: tf.Tensor4D) => {
  const [, H, W] = x.shape;
  return {
    value: tf.image.resizeNearestNeighbor(x, [2 * H, 2 * W], false, false),
    gradFunc: (dy: tf.Tensor4D) => tf.mul(tf.avgPool(dy, 2, 2, 'valid'), 4),
  };
}) as never) as unknown as (x: tf.Tensor4D) => tf.Tensor4D;

/** Official Downsample2x: zero-pad right/bottom by one, 3x3 conv stride 2, no padding. */
export function downsample2x(p: ParamMap, prefix: string, x: tf.Tensor4D): tf.Tensor4D {
  const padded = tf.pad(x, [
    [0, 0],
    [0, 1],
    [0, 1],
    [0, 0],
  ]);
  return conv(p, prefix, padded, { stride: 2, pad: 'valid' });
}

/**
 * Runs one block in its own tidy and frees the previous activation (not the caller's
 * input): peak memory is a block's intermediates, not the whole network's (at 256 px
 * one 160-channel activation is 42 MB). Tensors saved for a gradient are kept by the
 * tape itself, so this is safe under `tf.variableGrads`.
 */
function chain(input: tf.Tensor4D): { h: tf.Tensor4D; run(f: (h: tf.Tensor4D) => tf.Tensor4D): void } {
  const st = {
    h: input,
    run(f: (h: tf.Tensor4D) => tf.Tensor4D) {
      const prev = st.h;
      st.h = tf.tidy(() => f(prev));
      if (prev !== input) prev.dispose();
    },
  };
  return st;
}

/** Official Encoder (NHWC in and out): image (B,H,W,3) → (B,H/ds,W/ds,zChannels). */
export function encoderForward(p: ParamMap, c: VQVAEConfig, x: tf.Tensor4D, opts: ForwardOptions = {}): tf.Tensor4D {
  const L = c.chMult.length;
  const s = chain(x);
  s.run((h) => conv(p, 'encoder.conv_in', h));
  for (let lvl = 0; lvl < L; lvl++) {
    for (let b = 0; b < c.numResBlocks; b++) {
      s.run((h) => resnetBlock(p, `encoder.down.${lvl}.block.${b}`, h, c.dropout, opts));
      if (lvl === L - 1 && c.usingSa) s.run((h) => attnBlock(p, `encoder.down.${lvl}.attn.${b}`, h));
    }
    if (lvl !== L - 1) s.run((h) => downsample2x(p, `encoder.down.${lvl}.downsample.conv`, h));
  }
  s.run((h) => resnetBlock(p, 'encoder.mid.block_1', h, c.dropout, opts));
  if (c.usingMidSa) s.run((h) => attnBlock(p, 'encoder.mid.attn_1', h));
  s.run((h) => resnetBlock(p, 'encoder.mid.block_2', h, c.dropout, opts));
  s.run((h) => conv(p, 'encoder.conv_out', silu(groupNorm(p, 'encoder.norm_out', h))));
  return s.h;
}

/** Official Decoder (NHWC in and out): z (B,h,w,zChannels) → (B,h*ds,w*ds,3), not clamped. */
export function decoderForward(p: ParamMap, c: VQVAEConfig, z: tf.Tensor4D, opts: ForwardOptions = {}): tf.Tensor4D {
  const L = c.chMult.length;
  const s = chain(z);
  s.run((h) => conv(p, 'decoder.conv_in', h));
  s.run((h) => resnetBlock(p, 'decoder.mid.block_1', h, c.dropout, opts));
  if (c.usingMidSa) s.run((h) => attnBlock(p, 'decoder.mid.attn_1', h));
  s.run((h) => resnetBlock(p, 'decoder.mid.block_2', h, c.dropout, opts));
  for (let lvl = L - 1; lvl >= 0; lvl--) {
    for (let b = 0; b < c.numResBlocks + 1; b++) {
      s.run((h) => resnetBlock(p, `decoder.up.${lvl}.block.${b}`, h, c.dropout, opts));
      if (lvl === L - 1 && c.usingSa) s.run((h) => attnBlock(p, `decoder.up.${lvl}.attn.${b}`, h));
    }
    if (lvl !== 0) s.run((h) => conv(p, `decoder.up.${lvl}.upsample.conv`, upsample2x(h)));
  }
  s.run((h) => conv(p, 'decoder.conv_out', silu(groupNorm(p, 'decoder.norm_out', h))));
  return s.h;
}

/** Multiply-accumulate count ×2 (FLOPs) of every convolution and attention matMul of encoder / decoder at an image size. */
export function convFlops(c: VQVAEConfig, H: number, W: number): { encoder: number; decoder: number } {
  const L = c.chMult.length;
  const f = (h: number, w: number, cin: number, cout: number, k: number) => 2 * h * w * cin * cout * k * k;
  const att = (h: number, w: number, C: number) => f(h, w, C, 3 * C, 1) + f(h, w, C, C, 1) + 2 * 2 * (h * w) * (h * w) * C;
  const res = (h: number, w: number, cin: number, cout: number) =>
    f(h, w, cin, cout, 3) + f(h, w, cout, cout, 3) + (cin !== cout ? f(h, w, cin, cout, 1) : 0);
  let enc = f(H, W, c.inChannels, c.ch, 3);
  let h = H,
    w = W,
    cin = c.ch;
  const inMult = [1, ...c.chMult];
  for (let lvl = 0; lvl < L; lvl++) {
    cin = c.ch * inMult[lvl];
    const cout = c.ch * c.chMult[lvl];
    for (let b = 0; b < c.numResBlocks; b++) {
      enc += res(h, w, cin, cout);
      cin = cout;
      if (lvl === L - 1 && c.usingSa) enc += att(h, w, cin);
    }
    if (lvl !== L - 1) {
      h = Math.floor((h + 1 - 3) / 2) + 1;
      w = Math.floor((w + 1 - 3) / 2) + 1;
      enc += f(h, w, cin, cin, 3);
    }
  }
  enc += 2 * res(h, w, cin, cin) + (c.usingMidSa ? att(h, w, cin) : 0) + f(h, w, cin, c.zChannels, 3);
  // decoder
  let bi = c.ch * c.chMult[L - 1];
  let dec = f(h, w, c.zChannels, bi, 3) + 2 * res(h, w, bi, bi) + (c.usingMidSa ? att(h, w, bi) : 0);
  for (let lvl = L - 1; lvl >= 0; lvl--) {
    const bo = c.ch * c.chMult[lvl];
    for (let b = 0; b < c.numResBlocks + 1; b++) {
      dec += res(h, w, bi, bo);
      bi = bo;
      if (lvl === L - 1 && c.usingSa) dec += att(h, w, bi);
    }
    if (lvl !== 0) {
      h *= 2;
      w *= 2;
      dec += f(h, w, bi, bi, 3);
    }
  }
  dec += f(h, w, bi, c.inChannels, 3);
  return { encoder: enc, decoder: dec };
}
