/**
 * Trainer checkpoints both ways with the official multi-GPU trainer (FoundationVision/VAR
 * `train.py`, run with `torchrun`):
 *
 * - {@link exportOfficialTrainerCheckpoint}: a var.ts VAR run → `ar-ckpt-last.pth` as train.py
 *   saves it, `{epoch, iter, trainer: {config, var_wo_ddp, vae_local, var_opt: {optimizer}}, args}`,
 *   with the AdamW moments in torch's format, plus the official model directory
 *   (`vae.pth`, `var.pth`, `config.json`, see official.ts);
 * - {@link importOfficialTrainerCheckpoint}: the official trainer's checkpoint → this run's
 *   `checkpoint.safetensors` (weights, AdamW moments and step), so `trainVAR` with the run's
 *   options resumes from it.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readPthObject, writePth, pyFloat, pyOrderedDict, pyTuple, type RawTensor, type StateDict } from '@var/checkpoint';
import { CheckpointError, ConfigError, Rng } from '@var/core';
import { batchesPerEpoch } from '@var/data';
import { downsampleFactor } from '@var/tokenizer';
import { lrWdAnnealing } from '@var/transformer';
import { loadCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import { loadDataset } from './dataset.js';
import { fromTorchAdamWState, toOfficialStateDict, toTorchAdamWState, writeOfficialModel, type OfficialModelFiles } from './official.js';
import { exists, readRunConfig, runPaths } from './run-dir.js';
import { configHash, loadTokenizer } from './tokenizer.js';
import type { VARRunConfig } from './var.js';

/** File name train.py gives its latest checkpoint (and `auto_resume` looks for: `ar-ckpt*.pth`). */
export const OFFICIAL_TRAINER_CHECKPOINT = 'ar-ckpt-last.pth';

export interface OfficialTrainerExport extends OfficialModelFiles {
  /** The trainer checkpoint (`<dir>/ar-ckpt-last.pth`). */
  checkpoint: string;
  step: number;
  epoch: number;
  iter: number;
}

async function readVarRun(runDir: string): Promise<VARRunConfig> {
  const config = await readRunConfig<VARRunConfig>(runDir);
  if (config.kind !== 'var')
    throw new ConfigError(`${runDir} is a ${String(config.kind)} run; the official trainer checkpoint holds a VAR run (kind "var")`);
  if ((config as { order?: string }).order === 'raster')
    throw new ConfigError(
      `${runDir} is a raster-order run, which the official trainer cannot continue (it trains next-scale prediction only)`,
    );
  return config;
}

async function runTokenizer(config: VARRunConfig) {
  const tok = await loadTokenizer(config.tokenizer.path);
  if (tok.hash !== config.tokenizer.sha256) {
    tok.vae.dispose();
    throw new CheckpointError(
      `the run's tokenizer ${config.tokenizer.path} has changed since the run started (sha256 ${tok.hash.slice(0, 12)}…, the run used ${config.tokenizer.sha256.slice(0, 12)}…)`,
    );
  }
  try {
    return { config: tok.vae.config, stateDict: tok.vae.stateDict() as StateDict };
  } finally {
    tok.vae.dispose();
  }
}

/**
 * Export the latest checkpoint of a var.ts VAR run (`trainVAR`'s run directory) for the official
 * trainer: `<outDir>/ar-ckpt-last.pth` (what train.py saves and `auto_resume` loads), and
 * `vae.pth`, `var.pth`, `config.json` (the official constructor arguments).
 *
 * `epoch` / `iter` are the run's data position (epoch, batch within it); the AdamW moments and
 * step go to `trainer.var_opt.optimizer` under the official parameter groups, with the learning
 * rate and weight decay of the run's schedule at that step (train.py sets both again every
 * iteration); `trainer.config` holds `patch_nums`, `resos` (patch number × the tokenizer's
 * downsampling) and `label_smooth` as `VARTrainer.get_config()` does; `args` the run's settings
 * under the official argument names (train.py does not read them back).
 * @throws ConfigError when the directory holds no VAR run; CheckpointError when it has no checkpoint yet,
 *   or the weights do not fit the official classes (nothing is written then)
 */
export async function exportOfficialTrainerCheckpoint(runDir: string, outDir: string): Promise<OfficialTrainerExport> {
  const config = await readVarRun(runDir);
  const paths = runPaths(runDir);
  if (!(await exists(paths.checkpoint)))
    throw new CheckpointError(`${runDir} has no checkpoint.safetensors yet: run trainVAR (at least one checkpoint) before exporting`);
  const ck = await loadCheckpoint(paths.checkpoint, { configHash: configHash(config) });
  const tok = await runTokenizer(config);
  const mc = { tokenizer: tok.config, var: config.model };
  const vae = toOfficialStateDict('vae', tok.stateDict, mc, "the run's tokenizer");
  const v = toOfficialStateDict('var', ck.model, mc, `${paths.checkpoint} model`);
  const tc = config.train;
  const { lr, wd } = lrWdAnnealing(
    tc.schedule,
    tc.lr,
    tc.weightDecay,
    tc.weightDecayEnd,
    ck.state.step,
    tc.warmupSteps,
    tc.steps,
    0.005,
    tc.lrEndFraction,
  );
  const optimizer = toTorchAdamWState(config.model, {
    step: ck.state.optimizerStep,
    tensors: ck.optimizer as ReadonlyMap<string, RawTensor>,
    lr,
    weightDecay: wd,
    betas: tc.betas,
  });
  const patch = downsampleFactor(tok.config);
  const pn = config.model.patchNums;
  const trainer = {
    config: {
      patch_nums: pyTuple(...pn),
      resos: pyTuple(...pn.map((p) => p * patch)),
      label_smooth: pyFloat(tc.labelSmoothing),
      prog_it: 0,
      last_prog_si: -1,
      first_prog: true,
    },
    var_wo_ddp: pyOrderedDict(v),
    vae_local: pyOrderedDict(vae),
    var_opt: { optimizer },
  };
  const m = config.model;
  const args = {
    exp_name: `var.ts export of ${runDir}`,
    depth: m.depth,
    fp16: 0,
    tblr: pyFloat((tc.lr * 256) / tc.batchSize),
    tlr: pyFloat(tc.lr),
    twd: pyFloat(tc.weightDecay),
    twde: pyFloat(tc.weightDecayEnd),
    tclip: pyFloat(tc.gradClip),
    ls: pyFloat(tc.labelSmoothing),
    bs: tc.batchSize,
    batch_size: tc.batchSize,
    glb_batch_size: tc.batchSize,
    ac: 1,
    wp0: pyFloat(0.005),
    wpe: pyFloat(tc.lrEndFraction),
    sche: tc.schedule,
    opt: 'adamw',
    afuse: false,
    saln: m.sharedAln,
    anorm: m.attnL2Norm,
    fuse: false,
    pn: pn.join('_'),
    patch_size: patch,
    patch_nums: pyTuple(...pn),
    resos: pyTuple(...pn.map((p) => p * patch)),
    data_load_reso: Math.max(...pn) * patch,
    hflip: config.dataset.hflip > 0,
    pg: pyFloat(0),
    pg0: 4,
    pgwp: pyFloat(0),
    cur_it: `${ck.state.step}/${tc.steps}`,
    seed: config.seed,
  };
  const files = await writeOfficialModel(outDir, { config: mc, vae, var: v });
  const checkpoint = join(outDir, OFFICIAL_TRAINER_CHECKPOINT);
  await writePth(checkpoint, { epoch: ck.state.epoch, iter: ck.state.stepInEpoch, trainer, args });
  return { ...files, checkpoint, step: ck.state.step, epoch: ck.state.epoch, iter: ck.state.stepInEpoch };
}

export interface OfficialTrainerImport {
  /** The run checkpoint written (`<runDir>/checkpoint.safetensors`). */
  checkpoint: string;
  /** Optimiser updates in the official checkpoint; the run resumes at this step. */
  step: number;
  /** The official checkpoint's `epoch` / `iter` (its own data position). */
  officialEpoch: number;
  officialIter: number;
  /** The run's data position computed from `step` (its dataset and batch size). */
  epoch: number;
  stepInEpoch: number;
  /** Learning rate and weight decay found in the official parameter groups. */
  lr: number;
  weightDecay: number;
  /** Parameters without optimizer state in the file (never updated there): zero moments. */
  noState: string[];
  /** Whether the run's `model.safetensors` (weights of before the import) was removed; `trainVAR` writes it again. */
  removedModel: boolean;
}

function tensorEqual(a: RawTensor, b: RawTensor): boolean {
  if (a.shape.join(',') !== b.shape.join(',')) return false;
  const x = a.data as ArrayLike<number>;
  const y = b.data as ArrayLike<number>;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
  return true;
}

/**
 * Import the official trainer's checkpoint (`ar-ckpt-last.pth` / `ar-ckpt-best.pth`) into a
 * var.ts VAR run directory, replacing its `checkpoint.safetensors` (atomically): the weights of
 * `trainer.var_wo_ddp`, the AdamW moments and step of `trainer.var_opt.optimizer`. Calling
 * `trainVAR` with the run's options then resumes from the official step. The run directory must
 * already exist (its `config.json` gives the model, the tokenizer and the schedule: the run you
 * exported, or a new one started with the same options); the checkpoint's VQVAE must be the
 * run's tokenizer (the official trainer keeps it frozen). A `model.safetensors` of the run (its
 * final weights, when it had finished) is removed, since it no longer holds the run's weights;
 * `trainVAR` writes it again (at once when the imported step is past the run's `train.steps`).
 * @throws ConfigError for a directory without a VAR run, or AdamW betas / eps other than the run's;
 *   CheckpointError for a file that is not an official trainer checkpoint of this model
 */
export async function importOfficialTrainerCheckpoint(src: string, runDir: string): Promise<OfficialTrainerImport> {
  const config = await readVarRun(runDir);
  const root = await readPthObject(src);
  const get = (o: unknown, k: string): unknown => (o instanceof Map ? o.get(k) : undefined);
  const trainer = get(root, 'trainer');
  if (!(trainer instanceof Map) || !(get(trainer, 'var_wo_ddp') instanceof Map)) {
    throw new CheckpointError(
      `${src} is not an official trainer checkpoint: expected {epoch, iter, trainer: {var_wo_ddp, vae_local, var_opt}, args}; found keys ${root instanceof Map ? [...root.keys()].join(', ') : typeof root}`,
    );
  }
  const tok = await runTokenizer(config);
  const mc = { tokenizer: tok.config, var: config.model };
  const v = toOfficialStateDict('var', get(trainer, 'var_wo_ddp') as StateDict, mc, `${src} trainer.var_wo_ddp`);
  const vaeIn = get(trainer, 'vae_local');
  if (vaeIn instanceof Map) {
    const vae = toOfficialStateDict('vae', vaeIn as StateDict, mc, `${src} trainer.vae_local`);
    const differ = [...tok.stateDict].filter(([k, t]) => k !== 'quantize.ema_vocab_hit_SV' && !tensorEqual(t, vae.get(k)!)).map(([k]) => k);
    if (differ.length)
      throw new CheckpointError(
        `${src}: trainer.vae_local is not this run's tokenizer (${differ.length} tensors differ, e.g. ${differ.slice(0, 3).join(', ')}); import into a run trained on the same tokenizer`,
      );
  }
  const opt = fromTorchAdamWState(config.model, get(get(trainer, 'var_opt'), 'optimizer'), `${src} trainer.var_opt.optimizer`);
  const tc = config.train;
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b));
  if (!close(opt.betas[0], tc.betas[0]) || !close(opt.betas[1], tc.betas[1]) || !close(opt.eps, 1e-8)) {
    throw new ConfigError(
      `${src}: AdamW betas (${opt.betas.join(', ')}) and eps ${opt.eps} differ from the run's (betas ${tc.betas.join(', ')}, eps 1e-8); the run cannot continue this optimizer exactly`,
    );
  }
  const paths = runPaths(runDir);
  const hash = configHash(config);
  const prev = (await exists(paths.checkpoint))
    ? await loadCheckpoint(paths.checkpoint, { configHash: hash }).catch(() => undefined)
    : undefined;
  const ds = await loadDataset(config.dataset);
  const perEpoch = batchesPerEpoch(ds.train.length, tc.batchSize, true);
  if (perEpoch === 0)
    throw new ConfigError(`the run's training split has ${ds.train.length} images, fewer than its batch size ${tc.batchSize}`);
  const step = opt.step;
  const state: TrainState = {
    step,
    epoch: Math.floor(step / perEpoch),
    stepInEpoch: step % perEpoch,
    elapsedSec: prev?.state.elapsedSec ?? 0,
    optimizerStep: step,
    rng: prev?.state.rng ?? new Rng(config.seed * 2 + 1).getState(),
    configHash: hash,
    extra: { importedFrom: src, officialEpoch: Number(get(root, 'epoch') ?? 0), officialIter: Number(get(root, 'iter') ?? 0) },
  };
  await saveCheckpoint(paths.checkpoint, { state, model: v, optimizer: opt.tensors as unknown as StateDict });
  // the run's final weights (if it had finished) are not these any more: trainVAR writes them again from the checkpoint
  const staleModel = await exists(paths.model);
  if (staleModel) await rm(paths.model, { force: true });
  return {
    removedModel: staleModel,
    checkpoint: paths.checkpoint,
    step,
    officialEpoch: Number(get(root, 'epoch') ?? 0),
    officialIter: Number(get(root, 'iter') ?? 0),
    epoch: state.epoch,
    stepInEpoch: state.stepInEpoch,
    lr: opt.lr,
    weightDecay: opt.weightDecay,
    noState: opt.noState,
  };
}
