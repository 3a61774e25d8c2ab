/**
 * `var train tokenizer|var`: runs the resumable pipelines of @var/train (imported on use, so
 * the other commands do not load the training code).
 */
import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { UsageError } from '../errors.js';
import { abs, addBackendOptions, addOutputOptions, intOpt, numOpt, startBackend } from '../model.js';
import type { Ctx, Ui } from '../ui.js';

interface TrainOpts {
  runDir?: string;
  config?: string;
  tokenizer?: string;
  dataset?: string;
  data?: string;
  size?: string;
  steps?: string;
  batch?: string;
  lr?: string;
  seed?: string;
  stopAfter?: string;
  resume: boolean;
  backend?: string;
  threads?: string;
  json?: boolean;
  verbose?: boolean;
}

type Kind = 'tokenizer' | 'var';

function sub(ctx: Ctx, kind: Kind): Command {
  const cmd = new Command(kind)
    .description(
      kind === 'tokenizer'
        ? 'train (or resume) a multi-scale VQVAE tokenizer'
        : 'train (or resume) a VAR transformer on a trained tokenizer',
    )
    .option(
      '-r, --run-dir <dir>',
      "run directory: config.json, checkpoint.safetensors, log.jsonl (resumed when it holds a checkpoint of the same config; default: the config's runDir)",
    )
    .option(
      '--config <json>',
      'run config (file or inline JSON): { model, dataset, train, seed?, settings?, ' +
        (kind === 'tokenizer' ? 'evalSamples? }' : 'eval? }'),
    );
  if (kind === 'var') cmd.option('-t, --tokenizer <path>', 'the tokenizer: a finished tokenizer run directory or its model.safetensors');
  cmd
    .option('--dataset <name>', 'mnist, emoji or folder (overrides the config)')
    .option('--data <dir>', 'image folder for --dataset folder')
    .option('--size <px>', 'image side (must equal last patch num × downsample)')
    .option('--steps <n>', 'total optimisation steps')
    .option('--batch <n>', 'batch size')
    .option('--lr <x>', 'peak learning rate')
    .option('-s, --seed <n>', 'seed of initialisation and data order')
    .option('--stop-after <n>', 'stop after this many steps of this session (a checkpoint is written; run again to continue)')
    .option('--no-resume', 'fail instead of resuming when the run directory has a checkpoint');
  addBackendOptions(cmd);
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    kind === 'tokenizer'
      ? `
Examples:
  $ var train tokenizer --run-dir runs/tok --config tokenizer.json
  $ var train tokenizer --run-dir runs/tok --config tokenizer.json --stop-after 500   # resumable slices
  $ var train tokenizer --run-dir runs/tok --config '{"model":{"vPatchNums":[1,2,4],"chMult":[1,1,2],"inChannels":1},"dataset":{"name":"mnist","size":16},"train":{"steps":2000,"batchSize":32}}'

Ctrl-C writes a checkpoint and stops; the same command resumes.`
      : `
Examples:
  $ var train var --run-dir runs/var --tokenizer runs/tok --config var.json
  $ var train var --run-dir runs/var --tokenizer runs/tok/model.safetensors --config var.json --steps 20000
  $ var train var --config experiments/configs/mnist-var.json   # runDir/tokenizer from the config

Ctrl-C writes a checkpoint and stops; the same command resumes.`,
  );
  cmd.action(async (o: TrainOpts) => trainAction(ctx.ui(o), kind, o));
  return cmd;
}

export function trainCommand(ctx: Ctx): Command {
  const cmd = new Command('train').description('train a tokenizer or a VAR transformer with @var/train (resumable runs)');
  cmd.addCommand(sub(ctx, 'tokenizer'));
  cmd.addCommand(sub(ctx, 'var'));
  cmd.addHelpText(
    'after',
    `
Examples:
  $ var train tokenizer --run-dir runs/tok --config tokenizer.json
  $ var train var --run-dir runs/var --tokenizer runs/tok --config var.json`,
  );
  return cmd;
}

function readConfig(ui: Ui, v: string | undefined): Record<string, any> {
  if (v === undefined) return {};
  const t = v.trim();
  try {
    if (t.startsWith('{')) return JSON.parse(t);
    const p = abs(ui.io, t);
    if (!existsSync(p)) throw new UsageError(`--config: no such file ${p}`);
    return JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--config: not valid JSON: ${(e as Error).message}`);
  }
}

export async function trainAction(ui: Ui, kind: Kind, o: TrainOpts): Promise<void> {
  const cfg = readConfig(ui, o.config);
  if (cfg.kind !== undefined && cfg.kind !== kind)
    throw new UsageError(`--config is a "${cfg.kind}" run config; use \`var train ${cfg.kind}\``);
  const dataset = { ...(cfg.dataset ?? {}) };
  if (o.dataset !== undefined) {
    if (!['mnist', 'emoji', 'folder'].includes(o.dataset))
      throw new UsageError(`--dataset must be mnist, emoji or folder; got ${JSON.stringify(o.dataset)}`);
    dataset.name = o.dataset;
  }
  if (o.data !== undefined) dataset.path = abs(ui.io, o.data);
  else if (typeof dataset.path === 'string') dataset.path = abs(ui.io, dataset.path);
  if (o.size !== undefined) dataset.size = intOpt('--size', o.size, 0, 1);
  const train = { ...(cfg.train ?? {}) };
  if (o.steps !== undefined) train.steps = intOpt('--steps', o.steps, 0, 1);
  if (o.batch !== undefined) train.batchSize = intOpt('--batch', o.batch, 0, 1);
  if (o.lr !== undefined) train.lr = numOpt('--lr', o.lr, 0, 0);
  const seed = o.seed !== undefined ? intOpt('--seed', o.seed, 0, 0) : cfg.seed;
  const stopAfter = o.stopAfter !== undefined ? intOpt('--stop-after', o.stopAfter, 0, 1) : undefined;
  if (!cfg.model) throw new UsageError('the run config needs a "model" section (give --config)');
  if (!dataset.name || !dataset.size)
    throw new UsageError('the run config needs dataset.name and dataset.size (in --config or --dataset/--size)');
  if (!train.steps || !train.batchSize)
    throw new UsageError('the run config needs train.steps and train.batchSize (in --config or --steps/--batch)');
  const runDirArg = o.runDir ?? cfg.runDir;
  if (typeof runDirArg !== 'string') throw new UsageError('give --run-dir (or "runDir" in the config)');
  const tokenizerArg = o.tokenizer ?? cfg.tokenizer;
  if (kind === 'var' && typeof tokenizerArg !== 'string')
    throw new UsageError(
      'train var needs --tokenizer (a finished tokenizer run directory or its model.safetensors), or "tokenizer" in the config',
    );

  const backend = await startBackend(o, ui);
  const runDir = abs(ui.io, runDirArg);
  const mod = await import('@var/train');
  let bar: ReturnType<Ui['progress']> | undefined;
  const events: Record<string, unknown>[] = [];
  const onProgress = (e: {
    phase: string;
    step: number;
    totalSteps: number;
    loss?: number;
    itPerSec?: number;
    etaSec?: number;
    metrics?: Record<string, number>;
    message?: string;
    done?: number;
    total?: number;
  }) => {
    if (e.phase === 'train') {
      bar ??= ui.progress(`train ${kind}`, e.totalSteps);
      bar.update(
        e.step,
        `loss ${e.loss?.toFixed(4) ?? '?'}${e.itPerSec ? `, ${e.itPerSec.toFixed(2)} it/s` : ''}${e.etaSec !== undefined ? `, eta ${Math.round(e.etaSec)} s` : ''}`,
      );
    } else if (e.phase === 'tokens') {
      ui.debug(`tokens ${e.done}/${e.total}`);
    } else {
      const line = e.message ?? `${e.phase} at step ${e.step}${e.metrics ? ` ${JSON.stringify(e.metrics)}` : ''}`;
      if (ui.io.isTTY) ui.io.stderr(`\n${line}\n`);
      else ui.debug(line);
      if (e.phase === 'eval' || e.phase === 'checkpoint' || e.phase === 'resume')
        events.push({ phase: e.phase, step: e.step, ...(e.metrics ? { metrics: e.metrics } : {}) });
    }
  };
  const common = {
    runDir,
    model: cfg.model,
    dataset,
    train,
    ...(seed !== undefined ? { seed } : {}),
    ...(cfg.settings ? { settings: cfg.settings } : {}),
    ...(stopAfter !== undefined ? { stopAfter } : {}),
    resume: o.resume === false ? ('never' as const) : ('auto' as const),
    signal: ui.io.signal,
    onProgress,
  };
  let r: {
    step: number;
    totalSteps: number;
    done: boolean;
    reason: string;
    lastLosses?: Record<string, number>;
    lastEval?: Record<string, number>;
    resumedFrom: number;
    elapsedSec: number;
  };
  try {
    r =
      kind === 'tokenizer'
        ? await mod.trainTokenizer({ ...common, ...(cfg.evalSamples !== undefined ? { evalSamples: cfg.evalSamples } : {}) } as Parameters<
            typeof mod.trainTokenizer
          >[0])
        : await mod.trainVAR({
            ...common,
            tokenizer: abs(ui.io, tokenizerArg as string),
            ...(cfg.eval ? { eval: cfg.eval } : {}),
          } as Parameters<typeof mod.trainVAR>[0]);
  } finally {
    bar?.stop();
  }
  ui.line(
    `${runDir}: step ${r.step}/${r.totalSteps} (${r.reason}${r.resumedFrom ? `, resumed from step ${r.resumedFrom}` : ''}), ${r.elapsedSec.toFixed(1)} s of training`,
  );
  if (r.lastLosses) ui.line(`losses: ${JSON.stringify(r.lastLosses)}`);
  if (r.lastEval) ui.line(`eval: ${JSON.stringify(r.lastEval)}`);
  if (!r.done) ui.line(`not finished: run the same command again to resume`);
  ui.result({ command: `train ${kind}`, backend: backend.name, runDir, ...r, events });
  if (r.reason === 'aborted') {
    const e = new Error('training interrupted; a checkpoint was written — run the same command to resume');
    e.name = 'AbortError';
    throw e;
  }
}
