/** Input validation shared by the public methods (typed errors from @var/core). */
import * as tf from '@tensorflow/tfjs-core';
import { NonFiniteError, ShapeError, ValueError } from '@var/core';

export function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function assertTensor(what: string, x: unknown): asserts x is tf.Tensor {
  if (!(x instanceof tf.Tensor)) {
    throw new ValueError(`${what} must be a tf.Tensor; got ${x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x}`);
  }
  if (x.isDisposed) throw new ValueError(`${what} has been disposed`);
}

/** Rank-4 float32 tensor with `channels` channels (dim 1, NCHW). */
export function assertNCHW(what: string, x: unknown, channels: number, layoutHint: string): asserts x is tf.Tensor4D {
  assertTensor(what, x);
  if (x.rank !== 4) throw new ShapeError(`${what} must be rank 4 ${layoutHint}; got shape ${fmt(x.shape)}`);
  if (x.dtype !== 'float32') throw new ValueError(`${what} must be float32; got ${x.dtype}`);
  if (x.shape[1] !== channels) {
    const hint = x.shape[3] === channels ? ' (it looks like NHWC: transpose it with tf.transpose(x, [0, 3, 1, 2]))' : '';
    throw new ShapeError(`${what} must have ${channels} channels in dim 1 ${layoutHint}; got shape ${fmt(x.shape)}${hint}`);
  }
  if (x.shape[0] === 0) throw new ShapeError(`${what} has an empty batch: shape ${fmt(x.shape)}`);
}

/**
 * Whether value checks may read tensors synchronously on the active backend. Not on WebGPU:
 * outside a browser (Node with Dawn) there is no OffscreenCanvas for `dataSync`, and in a
 * browser a synchronous read-back stalls the GPU queue once per call (tfjs warns) — in the
 * middle of every generation, as `fhatToImg` checks its input. Value checks (NaN inputs,
 * token index range) are skipped there; shape checks still run.
 */
export function canReadSync(): boolean {
  return tf.getBackend() !== 'webgpu';
}

/** Throw NonFiniteError if `x` holds a NaN or ±Infinity (one reduction and a scalar read). */
export function assertFinite(what: string, x: tf.Tensor): void {
  if (!canReadSync()) return;
  const bad = tf.tidy(() => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(x)), 'int32')));
  const n = bad.dataSync()[0];
  bad.dispose();
  if (n > 0) throw new NonFiniteError(`${what} contains ${n} non-finite value(s) (NaN or ±Infinity) out of ${x.size}`);
}

/**
 * Validate per-scale token maps: `SN` int32 tensors of shape (B, pn*pn) with the same
 * B, every value in [0, vocabSize). Returns B.
 */
export function assertIdxList(
  what: string,
  idx: unknown,
  patchNums: readonly number[],
  vocabSize: number,
  count = patchNums.length,
): number {
  if (!Array.isArray(idx))
    throw new ValueError(`${what} must be an array of ${count} int32 tensors (one per scale); got ${idx === null ? 'null' : typeof idx}`);
  if (idx.length !== count) {
    throw new ShapeError(
      `${what} must hold ${count} token maps (scales with patch nums ${JSON.stringify(patchNums.slice(0, count))}); got ${idx.length}`,
    );
  }
  let B = -1;
  idx.forEach((t, si) => {
    assertTensor(`${what}[${si}]`, t);
    const pn = patchNums[si];
    if (t.dtype !== 'int32') throw new ValueError(`${what}[${si}] must be int32 token indices; got ${t.dtype}`);
    if (t.rank !== 2 || t.shape[1] !== pn * pn) {
      throw new ShapeError(
        `${what}[${si}] must have shape (B, ${pn * pn}) (scale ${si}, ${pn}x${pn} tokens, row-major); got ${fmt(t.shape)}`,
      );
    }
    if (B < 0) B = t.shape[0];
    else if (t.shape[0] !== B) throw new ShapeError(`${what}: batch mismatch: scale 0 has B=${B} but scale ${si} has B=${t.shape[0]}`);
  });
  if (B === 0) throw new ShapeError(`${what} has an empty batch`);
  assertIdxRange(what, idx as tf.Tensor[], vocabSize);
  return B;
}

/** Every index in [0, vocabSize) (one reduction per tensor, one read). */
export function assertIdxRange(what: string, idx: tf.Tensor[], vocabSize: number): void {
  if (idx.length === 0 || !canReadSync()) return;
  const mm = tf.tidy(() => {
    const flat = idx.length === 1 ? tf.reshape(idx[0], [-1]) : tf.concat(idx.map((t) => tf.reshape(t, [-1])));
    return tf.stack([tf.min(flat), tf.max(flat)]);
  });
  const [lo, hi] = mm.dataSync();
  mm.dispose();
  if (lo < 0 || hi >= vocabSize) {
    throw new ValueError(
      `${what}: token indices must be in [0, ${vocabSize - 1}] (vocabulary ${vocabSize}); found values in [${lo}, ${hi}]`,
    );
  }
}
