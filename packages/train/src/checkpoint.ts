/**
 * Training checkpoints: one safetensors file holding everything a run needs to continue
 * exactly — model weights (`model.<name>`, official names and layouts), optimiser moments
 * (`optim.m.<name>`, `optim.v.<name>`), and in the metadata the optimiser step, the RNG
 * state, the data-iterator position (epoch, batch within epoch), the elapsed time and the
 * hash of the run config. Written atomically by @var/checkpoint's `writeSafetensors`.
 */
import { readSafetensors, writeSafetensors, type StateDict } from '@var/checkpoint';
import { CheckpointError, type RngState } from '@var/core';

export const CHECKPOINT_FORMAT = 'var-ts-train-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** The scalar state of a run at a checkpoint. */
export interface TrainState {
  /** Optimisation steps done. */
  step: number;
  /** Position of the next batch: epoch and batch index within it. */
  epoch: number;
  stepInEpoch: number;
  /** Training time so far over all sessions, in seconds. */
  elapsedSec: number;
  /** Optimiser update count. */
  optimizerStep: number;
  /** State of the run's random generator (label dropout etc.), if it has one. */
  rng?: RngState;
  /** sha256 of the canonical run config (checked on resume). */
  configHash: string;
  /** Anything else a pipeline needs (kept as JSON). */
  extra?: Record<string, unknown>;
}

export interface Checkpoint {
  state: TrainState;
  model: StateDict;
  optimizer: StateDict;
}

/** Write a checkpoint atomically. */
export async function saveCheckpoint(path: string, ckpt: Checkpoint): Promise<void> {
  const tensors: StateDict = new Map();
  for (const [k, t] of ckpt.model) tensors.set(`model.${k}`, t);
  for (const [k, t] of ckpt.optimizer) tensors.set(`optim.${k}`, t);
  await writeSafetensors(path, tensors, {
    format: CHECKPOINT_FORMAT,
    version: String(CHECKPOINT_VERSION),
    state: JSON.stringify(ckpt.state),
  });
}

/**
 * Read a checkpoint written by {@link saveCheckpoint}.
 * @throws CheckpointError when the file is unreadable, truncated, corrupt, not a training
 *   checkpoint, or (with `configHash`) belongs to another run config
 */
export async function loadCheckpoint(path: string, opts: { configHash?: string } = {}): Promise<Checkpoint> {
  let file: Awaited<ReturnType<typeof readSafetensors>>;
  try {
    file = await readSafetensors(path);
  } catch (e) {
    throw new CheckpointError(
      `cannot read the training checkpoint ${path}: ${(e as Error).message}. The file is corrupt; delete it to restart the run from scratch.`,
      { cause: e },
    );
  }
  const meta = file.metadata ?? {};
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      `${path} is not a var.ts training checkpoint (metadata format = ${JSON.stringify(meta.format)}, expected ${CHECKPOINT_FORMAT})`,
    );
  }
  let state: TrainState;
  try {
    state = JSON.parse(meta.state ?? '') as TrainState;
  } catch (e) {
    throw new CheckpointError(`${path}: the checkpoint's state metadata is not valid JSON (${(e as Error).message})`, { cause: e });
  }
  for (const k of ['step', 'epoch', 'stepInEpoch', 'elapsedSec', 'optimizerStep'] as const) {
    if (typeof state?.[k] !== 'number' || !Number.isFinite(state[k]) || state[k] < 0) {
      throw new CheckpointError(`${path}: the checkpoint state has no valid ${k} (found ${JSON.stringify(state?.[k])})`);
    }
  }
  if (opts.configHash !== undefined && state.configHash !== opts.configHash) {
    throw new CheckpointError(
      `${path} was written by a run with another configuration (config hash ${String(state.configHash).slice(0, 12)}…, this run ${opts.configHash.slice(0, 12)}…)`,
    );
  }
  const model: StateDict = new Map();
  const optimizer: StateDict = new Map();
  for (const [k, t] of file.tensors) {
    if (k.startsWith('model.')) model.set(k.slice(6), t);
    else if (k.startsWith('optim.')) optimizer.set(k.slice(6), t);
    else throw new CheckpointError(`${path}: unexpected tensor ${k} (expected model.* or optim.*)`);
  }
  return { state, model, optimizer };
}
