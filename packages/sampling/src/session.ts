/**
 * The transformer side of one generation: a KV-cached inference session (the model's own), or
 * one that recomputes every earlier scale with a teacher-forced `forward` (for checks), with the
 * labels doubled for classifier-free guidance.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ValueError } from '@var/core';
import type { Resolved } from './options.js';
import type { PhaseClock } from './timing.js';
import type { SamplerSession, SamplerVAR } from './types.js';

/**
 * A session without KV cache: step si runs the teacher-forced `forward` over scales 0..si with
 * the inputs collected so far and returns the logits of scale si.
 */
class UncachedSession implements SamplerSession {
  private xs: tf.Tensor3D[] = [];
  private readonly begin: number[] = [];
  constructor(
    private readonly model: SamplerVAR,
    private readonly labels: Int32Array,
  ) {
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

/**
 * A batch run through the transformer in chunks of images: one session per chunk over its
 * conditional and (with guidance) unconditional labels, so each chunk keeps its own KV cache.
 * `step` gives every chunk its rows of `x` (conditional rows `s..s+n`, unconditional rows
 * `B+s..`), runs the chunks one after another and puts the logits back in the order of one
 * session over the whole batch (all conditional rows, then all unconditional ones).
 */
class ChunkedSession implements SamplerSession {
  private readonly sessions: SamplerSession[] = [];
  private readonly starts: number[] = [];
  constructor(
    open: (labels: Int32Array) => SamplerSession,
    private readonly labels: Int32Array,
    chunk: number,
    private readonly guided: boolean,
    uncond: number,
  ) {
    const B = labels.length;
    try {
      for (let s = 0; s < B; s += chunk) {
        const n = Math.min(chunk, B - s);
        const lab = new Int32Array(guided ? 2 * n : n);
        lab.set(labels.subarray(s, s + n));
        if (guided) lab.fill(uncond, n);
        this.starts.push(s);
        this.sessions.push(open(lab));
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }
  step(si: number, x: tf.Tensor3D | null): tf.Tensor3D {
    const B = this.labels.length;
    const cond: tf.Tensor3D[] = [];
    const uncond: tf.Tensor3D[] = [];
    try {
      for (let j = 0; j < this.sessions.length; j++) {
        const s = this.starts[j];
        const n = (this.starts[j + 1] ?? B) - s;
        const xin = x
          ? tf.tidy(() => {
              const [, l, c] = x.shape;
              const rows = tf.slice(x, [s, 0, 0], [n, l, c]);
              return this.guided ? (tf.concat([rows, tf.slice(x, [B + s, 0, 0], [n, l, c])], 0) as tf.Tensor3D) : (rows as tf.Tensor3D);
            })
          : null;
        let out: tf.Tensor3D;
        try {
          out = this.sessions[j].step(si, xin);
        } finally {
          xin?.dispose();
        }
        if (!this.guided) {
          cond.push(out);
          continue;
        }
        try {
          const [, l, V] = out.shape;
          cond.push(tf.slice(out, [0, 0, 0], [n, l, V]));
          uncond.push(tf.slice(out, [n, 0, 0], [n, l, V]));
        } finally {
          out.dispose();
        }
      }
      return tf.concat([...cond, ...uncond], 0) as tf.Tensor3D;
    } finally {
      tf.dispose([...cond, ...uncond]);
    }
  }
  dispose(): void {
    for (const s of this.sessions) s.dispose();
    this.sessions.length = 0;
  }
}

/**
 * Open the session of a generation. With guidance (cfg > 0) the batch is doubled: the labels,
 * then as many unconditional ones (class `numClasses`), as the official code. With `chunk`
 * below the batch, the images run in chunks of that many (see {@link ChunkedSession}); the
 * logits are those of one session over the batch.
 */
export function openSession(model: SamplerVAR, r: Resolved, chunk = r.B): { session: SamplerSession; guided: boolean } {
  const guided = r.cfg > 0; // with cfg = 0 every t is 0: the unconditional half is not needed
  const open = (labels: Int32Array): SamplerSession => (r.kvCache ? model.startInference(labels) : new UncachedSession(model, labels));
  if (chunk < r.B) return { session: new ChunkedSession(open, r.labels, chunk, guided, model.config.numClasses), guided };
  const labels = new Int32Array(guided ? 2 * r.B : r.B);
  labels.set(r.labels);
  if (guided) labels.fill(model.config.numClasses, r.B);
  return { session: open(labels), guided };
}

/**
 * Classifier-free guidance on the session's output (disposed): `(1+t)·cond − t·uncond`, read
 * back to the CPU for filtering and drawing.
 */
export async function guidedLogits(out: tf.Tensor3D, B: number, t: number, guided: boolean): Promise<Float32Array> {
  let logits: tf.Tensor = out;
  try {
    if (guided) {
      const [, l, V] = out.shape;
      logits = tf.tidy(() => {
        const cond = tf.slice(out, [0, 0, 0], [B, l, V]);
        const uncond = tf.slice(out, [B, 0, 0], [B, l, V]);
        return tf.sub(tf.mul(cond, 1 + t), tf.mul(uncond, t));
      });
      out.dispose();
    }
    return (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
    out.dispose();
  }
}

/** The guidance strength at scale si of S: the official ramp `cfg·si/(S−1)`, or `cfg` throughout. */
export function guidanceAt(r: Resolved, si: number, S: number): number {
  return r.cfgSchedule === 'constant' ? r.cfg : r.cfg * (S > 1 ? si / (S - 1) : 0);
}

/**
 * One scale's logits on the CPU: the session's step on `x` (disposed; timed as `transformer`),
 * then guidance at that scale, read back — which starts the `sampling` phase the caller ends.
 */
export async function scaleLogits(
  session: SamplerSession,
  r: Resolved,
  si: number,
  S: number,
  x: tf.Tensor3D | null,
  clock: PhaseClock,
  guided: boolean,
): Promise<Float32Array> {
  clock.start();
  let out: tf.Tensor3D;
  try {
    out = session.step(si, x);
  } finally {
    x?.dispose();
  }
  try {
    await clock.end('transformer', si, out);
  } catch (e) {
    out.dispose();
    throw e;
  }
  clock.start();
  return guidedLogits(out, r.B, guidanceAt(r, si, S), guided);
}

/** The next scale's input (B, pn², Cvae) from the area-downsampled f_hat, doubled for guidance. */
export function nextInput(next: tf.Tensor4D, guided: boolean): tf.Tensor3D {
  const [B, Cvae] = next.shape;
  return tf.tidy(() => {
    const n = tf.transpose(tf.reshape(next, [B, Cvae, -1]), [0, 2, 1]) as tf.Tensor3D;
    return guided ? (tf.concat([n, n], 0) as tf.Tensor3D) : n;
  });
}

/** Resolves on the next macrotask so an abort from a timer or UI event can land between scales. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}
