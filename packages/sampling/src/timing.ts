/**
 * Phase timing for benchmarks ({@link SampleOptions.onPhase}): wall time of the transformer
 * step, the sampling (CFG, filters, f_hat update, next input) and the decoder. With no
 * `onPhase` every method is a no-op, so the sampler loop pays nothing.
 */
import type * as tf from '@tensorflow/tfjs-core';

/** One phase's wall time, given to {@link SampleOptions.onPhase}. */
export interface PhaseTiming {
  phase: 'transformer' | 'sampling' | 'decode';
  /** Scale index of `transformer` / `sampling`; null for `decode`. */
  si: number | null;
  /** Milliseconds (performance.now()). */
  ms: number;
}

/** Measures phases: `start()`, then `end(phase, si, output)` once the phase's output exists. */
export class PhaseClock {
  private t = 0;
  private carried = 0;
  constructor(private readonly onPhase?: (timing: PhaseTiming) => void) {}

  get enabled(): boolean {
    return this.onPhase !== undefined;
  }

  start(): void {
    if (this.onPhase) this.t = performance.now();
  }

  /** Keep the time since `start()` and add it to the next `end()` (session set-up into scale 0). */
  carry(): void {
    if (this.onPhase) this.carried += performance.now() - this.t;
  }

  /**
   * End a phase: waits for `output` (one read, so the time is that of the work, not of queuing
   * it), then reports. Without `onPhase` it returns at once and reads nothing.
   */
  async end(phase: PhaseTiming['phase'], si: number | null, output: tf.Tensor | null): Promise<void> {
    if (!this.onPhase) return;
    if (output) await output.data();
    this.onPhase({ phase, si, ms: performance.now() - this.t + this.carried });
    this.carried = 0;
  }
}
