/**
 * Scaled dot-product attention over the block-causal ("next-scale") mask, in three exact
 * formulations. They compute the same function; they differ in speed per backend
 * (see bench/attention.mjs):
 *
 * - `batched`: the official formulation, one batched `matMul(q, k, transposeB)` over (B·H),
 *   the mask added as −∞. On wasm this is the slow non-XNNPACK loop.
 * - `perHead`: one plain 2-D product per (batch, head) with kᵀ materialised, mask added.
 * - `perHeadBlocks`: like `perHead`, but each scale's queries only meet the keys of scales ≤ it,
 *   so the masked (−∞) part of the score matrix is never computed (≈38% fewer FLOPs at L=680,
 *   but more ops: measured slower than `perHead` on wasm).
 * - `auto` (the default): `perHead` for large score matrices, `batched` for small ones.
 */
import * as tf from '@tensorflow/tfjs-core';

export type AttentionImpl = 'auto' | 'batched' | 'perHead' | 'perHeadBlocks';

/**
 * `auto`: `perHead` when a (batch, head) score matrix has at least this many entries, else
 * `batched` (small scales are dominated by per-op overhead, see bench/attention.mjs).
 */
export const AUTO_PER_HEAD_MIN_SCORES = 16384;

export interface AttentionMask {
  /**
   * Row blocks [begin, end) of the queries; block i sees keys [0, keyEnd_i) where keyEnd_i = kvOffset + end.
   * `null` means every query sees every key (incremental inference: the cache holds only the past).
   */
  blocks: [number, number][] | null;
  /** Number of keys before the first query (the KV cache length); 0 for a full teacher-forced pass. */
  kvOffset: number;
}

const maskCache = new Map<string, Float32Array>();

function additiveMask(blocks: [number, number][], kvOffset: number, Lq: number, Lk: number): Float32Array {
  const key = `${JSON.stringify(blocks)}|${kvOffset}|${Lq}|${Lk}`;
  let m = maskCache.get(key);
  if (!m) {
    m = new Float32Array(Lq * Lk).fill(-Infinity);
    for (const [b, e] of blocks) {
      const kEnd = Math.min(Lk, kvOffset + e);
      for (let r = b; r < e && r < Lq; r++) m.fill(0, r * Lk, r * Lk + kEnd);
    }
    if (maskCache.size > 16) maskCache.clear();
    maskCache.set(key, m);
  }
  return m;
}

/**
 * softmax(q kᵀ · scale + mask) v.
 * @param q (B, H, Lq, hd) @param k (B, H, Lk, hd) @param v (B, H, Lk, hd) → (B, H, Lq, hd)
 */
export function attend(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  scale: number,
  mask: AttentionMask,
  impl: AttentionImpl,
): tf.Tensor4D {
  return tf.tidy(() => attendImpl(q, k, v, scale, mask, impl));
}

function attendImpl(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, scale: number, mask: AttentionMask, impl: AttentionImpl): tf.Tensor4D {
  const [B, H, Lq, hd] = q.shape;
  const Lk = k.shape[2];
  if (impl === 'auto') impl = Lq * Lk >= AUTO_PER_HEAD_MIN_SCORES ? 'perHead' : 'batched';
  if (scale !== 1) q = tf.mul(q, scale);
  if (impl === 'batched') {
    let s: tf.Tensor = tf.matMul(q, k, false, true);
    if (mask.blocks) s = tf.add(s, tf.tensor2d(additiveMask(mask.blocks, mask.kvOffset, Lq, Lk), [Lq, Lk]));
    return tf.matMul(tf.softmax(s), v) as tf.Tensor4D;
  }
  const n = B * H;
  const qs = tf.split(tf.reshape(q, [n, Lq, hd]), n, 0).map((t) => tf.reshape(t, [Lq, hd]) as tf.Tensor2D);
  const kTs = tf.split(tf.transpose(tf.reshape(k, [n, Lk, hd]), [0, 2, 1]), n, 0).map((t) => tf.reshape(t, [hd, Lk]) as tf.Tensor2D);
  const vs = tf.split(tf.reshape(v, [n, Lk, hd]), n, 0).map((t) => tf.reshape(t, [Lk, hd]) as tf.Tensor2D);
  const outs: tf.Tensor2D[] = [];
  if (impl === 'perHead' || !mask.blocks) {
    const m = mask.blocks ? tf.tensor2d(additiveMask(mask.blocks, mask.kvOffset, Lq, Lk), [Lq, Lk]) : null;
    for (let i = 0; i < n; i++) {
      let s: tf.Tensor2D = tf.matMul(qs[i], kTs[i]);
      if (m) s = tf.add(s, m);
      outs.push(tf.matMul(tf.softmax(s), vs[i]));
    }
  } else {
    const blocks = mask.blocks;
    for (let i = 0; i < n; i++) {
      const parts: tf.Tensor2D[] = [];
      for (const [b, e] of blocks) {
        const kEnd = Math.min(Lk, mask.kvOffset + e);
        const qb = blocks.length === 1 ? qs[i] : tf.slice(qs[i], [b, 0], [e - b, hd]);
        const kb = kEnd === Lk ? kTs[i] : tf.slice(kTs[i], [0, 0], [hd, kEnd]);
        const vb = kEnd === Lk ? vs[i] : tf.slice(vs[i], [0, 0], [kEnd, hd]);
        parts.push(tf.matMul(tf.softmax(tf.matMul(qb, kb)), vb));
      }
      outs.push(parts.length === 1 ? parts[0] : tf.concat(parts, 0));
    }
  }
  return tf.reshape(tf.stack(outs), [B, H, Lq, hd]) as tf.Tensor4D;
}
