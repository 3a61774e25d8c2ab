/**
 * What both pipelines share inside one training session: timing (it/s over a sliding
 * window, ETA), the JSONL log, progress callbacks and the checkpoint cadence.
 */
import type { JsonlLog } from './run-dir.js';

/** A progress report (the CLI renders these). */
export interface ProgressEvent {
  /** Which pipeline. */
  kind: 'tokenizer' | 'var';
  /**
   * `train`: a step was done; `eval`: an evaluation finished (`metrics`); `checkpoint`: a
   * checkpoint was written; `tokens`: tokens are being precomputed (`done`/`total` images);
   * `resume`: the run continues from a checkpoint at `step`; `end`: the run finished or stopped.
   */
  phase: 'train' | 'eval' | 'checkpoint' | 'tokens' | 'resume' | 'end';
  /** Steps done so far, and the run's total. */
  step: number;
  totalSteps: number;
  epoch?: number;
  /** Total loss of the last step (train). */
  loss?: number;
  /** Every loss term of the last step (train). */
  losses?: Record<string, number>;
  /** Learning rate of the last step. */
  lr?: number;
  /** Steps per second over the last few steps of this session. */
  itPerSec?: number;
  /** Training time of the run so far (all sessions), seconds. */
  elapsedSec?: number;
  /** Estimated seconds to the end of the run. */
  etaSec?: number;
  /** Evaluation results (eval). */
  metrics?: Record<string, number>;
  /** tokens: images encoded so far / to encode. */
  done?: number;
  total?: number;
  /** end: why the session ended. */
  reason?: 'done' | 'stopped' | 'aborted';
  /** A human-readable line. */
  message?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** Options every pipeline shares. */
export interface SessionOptions {
  /** Progress reports (train steps, evals, checkpoints, …). */
  onProgress?: ProgressCallback;
  /** Stop between steps; a checkpoint is written first, then the run returns with reason 'aborted'. */
  signal?: AbortSignal;
  /** Stop after this many steps of this session (a checkpoint is written); for time slicing and tests. */
  stopAfter?: number;
}

/** Run-time settings that may change between sessions of one run (not compared on resume). */
export interface RunSettings {
  /** Write a checkpoint every N steps (default 250). */
  checkpointEvery?: number;
  /** …and at least every this many seconds (default 300). */
  checkpointEverySec?: number;
  /** Log a train line every N steps (default 10). */
  logEvery?: number;
  /** Evaluate every N steps (default 500; 0 = only at the end). */
  evalEvery?: number;
}

export function resolveSettings(s: RunSettings = {}): Required<RunSettings> {
  return {
    checkpointEvery: s.checkpointEvery ?? 250,
    checkpointEverySec: s.checkpointEverySec ?? 300,
    logEvery: s.logEvery ?? 10,
    evalEvery: s.evalEvery ?? 500,
  };
}

export class SessionClock {
  private readonly startMs = Date.now();
  private lastCkptMs = Date.now();
  private readonly window: number[] = [];
  private lastStepMs = Date.now();

  constructor(
    readonly kind: 'tokenizer' | 'var',
    readonly totalSteps: number,
    readonly elapsedBase: number,
    readonly settings: Required<RunSettings>,
    readonly log: JsonlLog,
    readonly onProgress?: ProgressCallback,
  ) {}

  /** Training seconds of the run, all sessions. */
  elapsedSec(): number {
    return this.elapsedBase + (Date.now() - this.startMs) / 1000;
  }

  /** Call right before a step begins timing (after data loading is included). */
  markStepTime(): number {
    const now = Date.now();
    const dt = now - this.lastStepMs;
    this.lastStepMs = now;
    return dt;
  }

  resetStepTimer(): void {
    this.lastStepMs = Date.now();
  }

  itPerSec(): number {
    if (!this.window.length) return 0;
    const sum = this.window.reduce((a, b) => a + b, 0);
    return sum > 0 ? (1000 * this.window.length) / sum : 0;
  }

  /** Record a finished step: logs (every logEvery) and reports progress. */
  async stepDone(
    step: number,
    epoch: number,
    losses: Record<string, number>,
    lr: number,
    extra: Record<string, number> = {},
  ): Promise<void> {
    const dt = this.markStepTime();
    this.window.push(dt);
    if (this.window.length > 20) this.window.shift();
    const itPerSec = this.itPerSec();
    const elapsedSec = this.elapsedSec();
    const etaSec = itPerSec > 0 ? (this.totalSteps - step) / itPerSec : undefined;
    if (step % this.settings.logEvery === 0 || step === this.totalSteps) {
      await this.log.append({
        type: 'train',
        step,
        epoch,
        ...losses,
        lr,
        ...extra,
        itPerSec: round(itPerSec, 4),
        elapsedSec: round(elapsedSec, 2),
      });
    }
    this.onProgress?.({
      kind: this.kind,
      phase: 'train',
      step,
      totalSteps: this.totalSteps,
      epoch,
      loss: losses.loss,
      losses,
      lr,
      itPerSec,
      elapsedSec,
      etaSec,
      message: `${this.kind} step ${step}/${this.totalSteps} loss ${losses.loss?.toFixed(4)} lr ${lr.toExponential(2)} ${itPerSec.toFixed(2)} it/s ETA ${formatDuration(etaSec)}`,
    });
  }

  /** Whether a checkpoint is due after `step`. */
  checkpointDue(step: number): boolean {
    return step % this.settings.checkpointEvery === 0 || Date.now() - this.lastCkptMs >= this.settings.checkpointEverySec * 1000;
  }

  checkpointWritten(step: number): void {
    this.lastCkptMs = Date.now();
    this.onProgress?.({
      kind: this.kind,
      phase: 'checkpoint',
      step,
      totalSteps: this.totalSteps,
      elapsedSec: this.elapsedSec(),
      message: `checkpoint at step ${step}`,
    });
  }

  evalDue(step: number): boolean {
    return this.settings.evalEvery > 0 && step % this.settings.evalEvery === 0;
  }

  async evalDone(step: number, metrics: Record<string, number>): Promise<void> {
    await this.log.append({ type: 'eval', step, ...metrics });
    this.onProgress?.({
      kind: this.kind,
      phase: 'eval',
      step,
      totalSteps: this.totalSteps,
      metrics,
      elapsedSec: this.elapsedSec(),
      message: `eval at step ${step}: ${Object.entries(metrics)
        .map(([k, v]) => `${k} ${round(v, 5)}`)
        .join(', ')}`,
    });
  }
}

export function round(x: number, digits: number): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** "1h02m", "3m05s", "12s", "?" */
export function formatDuration(sec: number | undefined): string {
  if (sec === undefined || !Number.isFinite(sec)) return '?';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/** The schedule: linear warm-up from wp0·lr to lr over `warmupSteps`, then cosine to `lrEndFraction`·lr at the last step. */
export function learningRateAt(
  step: number,
  totalSteps: number,
  peakLr: number,
  warmupSteps: number,
  lrEndFraction = 0.01,
  wp0 = 0.005,
): number {
  if (step < warmupSteps) return peakLr * (wp0 + ((1 - wp0) * step) / warmupSteps);
  const denom = Math.max(1, totalSteps - 1 - warmupSteps);
  const p = Math.min(1, (step - warmupSteps) / denom);
  return peakLr * (lrEndFraction + (1 - lrEndFraction) * (0.5 + 0.5 * Math.cos(Math.PI * p)));
}
