import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { CheckpointError } from '@var/core';
import { writeFileAtomic } from '@var/data';
import {
  compareStateDict,
  detectFormat,
  formatStateDictReport,
  loadStateDict,
  pthToSafetensors,
  writePth,
  writeSafetensors,
  type StateDict,
} from '@var/checkpoint';
import { VQVAE_PRESETS, type VQVAEConfig } from '@var/tokenizer';
import { varPreset, type VARPresetName } from '@var/transformer';
import {
  MODEL_CARD_FORMAT,
  MODEL_CARD_VERSION,
  MODEL_FILES,
  cardFromConfig,
  parseModelCard,
  resolveModelConfig,
  toFloat16,
  type ModelCard,
} from '@var/models';
import { exportOfficialTrainerCheckpoint, importOfficialTrainerCheckpoint, readOfficialModel, writeOfficialModel } from '@var/train';
import { VAR_PRESETS, analyse, kindOf, tokenizerShapes, transformerShapes } from '../checkpoint.js';
import { UsageError } from '../errors.js';
import { abs, addOutputOptions } from '../model.js';
import type { Ctx, Ui } from '../ui.js';

interface ConvertOpts {
  to?: string;
  id?: string;
  classNames?: string;
  float16?: boolean;
  preset?: string;
  config?: string;
  key?: string;
  force?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function convertCommand(ctx: Ctx): Command {
  const cmd = new Command('convert')
    .description(
      'convert between safetensors, PyTorch .pth, var.ts model directories and the official PyTorch code (model directory, trainer checkpoint), checking keys and shapes first',
    )
    .argument(
      '<input>',
      'a .pth or .safetensors checkpoint, a model directory (model-card.json), an official model directory (config.json + vae.pth + var.pth), a VAR run directory (var train), or an official trainer checkpoint (ar-ckpt-last.pth)',
    )
    .argument('<output>', 'the file or directory to write (atomically)')
    .option('--to <kind>', `what to write: ${TARGETS.join(', ')} (default: from the output name and the input)`)
    .option('--id <id>', 'model id of a model directory written from an official one (default: the output folder name)')
    .option('--class-names <names>', 'comma-separated class names of a model directory written from an official one (default: 0, 1, …)')
    .option('--float16', 'store floating-point tensors as float16 (half the size)')
    .option(
      '--preset <name>',
      `expected model: tokenizer ${Object.keys(VQVAE_PRESETS).join(', ')} or transformer ${VAR_PRESETS.join(', ')}`,
    )
    .option('--config <json>', 'expected model config (file or inline JSON: a model card, { tokenizer, var } or an official config.json)')
    .option('--key <name>', 'which object of a trainer checkpoint holds the state dict (default: detected)')
    .option('-f, --force', 'overwrite an existing output file');
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ var convert vae_ch160v4096z32.pth vae.safetensors --preset vae_ch160v4096z32
  $ var convert var_d16.pth var_d16.safetensors --float16 --preset d16
  $ var convert var.safetensors var.pth --config model-card.json
  $ var convert ar-ckpt-last.pth var.safetensors --key trainer.var_wo_ddp --config config.json
  $ var convert my-model/ official/                  # model directory -> config.json + vae.pth + var.pth for the official code
  $ var convert official/ my-model/ --class-names cat,dog   # and back
  $ var convert runs/my-var official/                # a VAR run -> the official trainer's ar-ckpt-last.pth (+ model files)
  $ var convert out/ar-ckpt-last.pth runs/my-var --to run   # the official trainer's checkpoint -> the run; var train resumes it

Nothing is written when the checkpoint does not match the preset/config (or the official classes); the mismatches are listed.`,
  );
  cmd.action(async (input: string, output: string, o: ConvertOpts) => convertAction(ctx.ui(o), input, output, o));
  return cmd;
}

/** What `var convert` writes. */
const TARGETS = ['safetensors', 'pth', 'model', 'official', 'run'] as const;
type Target = (typeof TARGETS)[number];
type Source = 'file' | 'model' | 'official' | 'run';

function readJson(path: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** What the input is: a checkpoint file, a var.ts model directory, an official model directory or a VAR run. */
function sourceKind(src: string): Source {
  if (!statSync(src).isDirectory()) return 'file';
  if (existsSync(join(src, MODEL_FILES.card))) return 'model';
  const cfg = readJson(join(src, 'config.json'));
  if (cfg && cfg.kind === 'var') return 'run';
  if (cfg && typeof cfg.VQVAE === 'object' && typeof cfg.VAR === 'object') return 'official';
  if (cfg && typeof cfg.kind === 'string')
    throw new UsageError(`${src} is a ${cfg.kind} run; only VAR runs (var train var) convert to the official trainer's checkpoint`);
  throw new UsageError(
    `${src} is a folder but neither a model directory (${MODEL_FILES.card}), an official model directory (config.json with VQVAE and VAR) nor a VAR run directory (config.json of var train var)`,
  );
}

function targetKind(dst: string, from: Source, o: ConvertOpts): Target {
  if (o.to !== undefined) {
    if (!(TARGETS as readonly string[]).includes(o.to)) throw new UsageError(`--to ${o.to}: expected one of ${TARGETS.join(', ')}`);
    return o.to as Target;
  }
  if (/\.safetensors$/i.test(dst)) return 'safetensors';
  if (/\.(pth|pt|bin)$/i.test(dst)) return 'pth';
  if (from === 'model' || from === 'run') return 'official';
  if (from === 'official') return 'model';
  throw new UsageError(`cannot tell what to write to ${dst}: name it *.safetensors or *.pth, or pass --to (${TARGETS.join(', ')})`);
}

function nonEmptyDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory() && readdirSync(p).length > 0;
}

export async function convertAction(ui: Ui, input: string, output: string, o: ConvertOpts): Promise<void> {
  const src = abs(ui.io, input);
  const dst = abs(ui.io, output);
  if (!existsSync(src)) throw new UsageError(`no such file: ${src}`);
  if (o.preset !== undefined && o.config !== undefined) throw new UsageError('give --preset or --config, not both');
  const from = sourceKind(src);
  const to = targetKind(dst, from, o);
  if (to === 'run') return importRun(ui, src, dst, from);
  if (existsSync(dst) && !o.force && (statSync(dst).isFile() || nonEmptyDir(dst)))
    throw new UsageError(`${dst} exists; pass --force to overwrite it`);
  if (from === 'run') {
    if (to !== 'official')
      throw new UsageError(`a VAR run directory converts to the official trainer's checkpoint (--to official), not to ${to}`);
    return exportRun(ui, src, dst);
  }
  if (from === 'model' || from === 'official') {
    if (to === 'official' && from === 'model') return modelToOfficial(ui, src, dst, o);
    if (to === 'model' && from === 'official') return officialToModel(ui, src, dst, o);
    throw new UsageError(
      `a${from === 'official' ? 'n official' : ''} model directory converts to ${from === 'model' ? 'an official model directory (--to official)' : 'a model directory (--to model)'}; convert its vae/var files one by one to get single checkpoints`,
    );
  }
  if (to === 'model' || to === 'official')
    throw new UsageError(
      `${src} is a single checkpoint; write it as *.safetensors or *.pth (a model directory needs both the tokenizer and the transformer)`,
    );
  const head = readFileSync(src).subarray(0, 16);
  const format = detectFormat(head);
  const sd = await loadStateDict(src, o.key !== undefined ? { key: o.key } : {});
  const kind = kindOf(sd);
  let expected: Record<string, number[]> | undefined;
  let expectedName: string | undefined;
  if (o.preset !== undefined) {
    const vq = (VQVAE_PRESETS as Record<string, VQVAEConfig>)[o.preset];
    if (vq) expected = tokenizerShapes(vq);
    else if ((VAR_PRESETS as readonly string[]).includes(o.preset)) expected = transformerShapes(varPreset(o.preset as VARPresetName));
    else throw new UsageError(`unknown preset "${o.preset}": expected ${[...Object.keys(VQVAE_PRESETS), ...VAR_PRESETS].join(', ')}`);
    expectedName = `preset ${o.preset}`;
  } else if (o.config !== undefined) {
    const t = o.config.trim();
    let raw: unknown;
    try {
      raw = JSON.parse(t.startsWith('{') ? t : readFileSync(abs(ui.io, t), 'utf8'));
    } catch (e) {
      throw new UsageError(
        `--config: ${t.startsWith('{') ? 'inline JSON' : abs(ui.io, t)} cannot be read as JSON: ${(e as Error).message}`,
      );
    }
    const cfg = resolveModelConfig(raw);
    if (kind === 'unknown')
      throw new CheckpointError(
        `${src}: neither a VAR tokenizer nor a transformer state dict (no quantize.embedding.weight, head.weight or blocks.*)`,
      );
    expected = kind === 'tokenizer' ? tokenizerShapes(cfg.tokenizer) : transformerShapes(cfg.var);
    expectedName = `the ${kind} of --config`;
  }
  let check: { ok: boolean; missing: string[]; unexpected: string[]; mismatched: unknown[] } | undefined;
  if (expected) {
    const report = compareStateDict(sd, expected);
    check = { ok: report.ok, missing: report.missing, unexpected: report.unexpected, mismatched: report.mismatched };
    if (!report.ok) {
      const text = formatStateDictReport(report);
      throw new CheckpointError(`${src} does not match ${expectedName}; nothing written.\n${text}`);
    }
    ui.debug(`matches ${expectedName}`);
  }
  const a = analyse(sd);
  let stats: { tensors: number; converted: number; overflowed: number; dtypes: Record<string, number> };
  if (to === 'pth') {
    const outSd = o.float16 ? toFloat16(sd) : sd;
    await writePth(dst, outSd);
    stats = { tensors: outSd.size, converted: o.float16 ? countConverted(sd) : 0, overflowed: 0, dtypes: dtypeCounts(outSd) };
  } else if (format === 'pth') {
    const r = await pthToSafetensors(src, dst, { float16: !!o.float16, ...(o.key !== undefined ? { key: o.key } : {}) });
    stats = { tensors: r.tensors, converted: r.converted, overflowed: r.overflowed, dtypes: r.dtypes as Record<string, number> };
  } else {
    const outSd = o.float16 ? toFloat16(sd) : sd;
    await writeSafetensors(dst, outSd, { format: 'pt' });
    stats = { tensors: outSd.size, converted: o.float16 ? countConverted(sd) : 0, overflowed: 0, dtypes: dtypeCounts(outSd) };
  }
  if (stats.overflowed > 0) ui.warn(`${stats.overflowed} finite values became ±Infinity in float16 (|x| > 65504)`);
  ui.line(dst);
  ui.line(
    `${stats.tensors} tensors (${Object.entries(stats.dtypes)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}), ${a.parameters} parameters, kind ${a.kind}`,
  );
  ui.line(expected ? `matches ${expectedName}` : `presets matched: ${a.presetsMatched.length ? a.presetsMatched.join(', ') : 'none'}`);
  ui.result({
    command: 'convert',
    input: src,
    output: dst,
    from: format,
    to,
    format,
    kind: a.kind,
    parameters: a.parameters,
    presetsMatched: a.presetsMatched,
    ...stats,
    ...(check ? { check } : {}),
  });
}

function dtypeCounts(sd: StateDict): Record<string, number> {
  const dtypes: Record<string, number> = {};
  for (const t of sd.values()) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  return dtypes;
}

function countConverted(sd: StateDict): number {
  return [...sd.values()].filter((t) => (t.dtype !== 'F16' && t.dtype.startsWith('F')) || t.dtype === 'BF16').length;
}

/** A var.ts model directory → config.json + vae.pth + var.pth for the official VQVAE / VAR. */
async function modelToOfficial(ui: Ui, src: string, dst: string, o: ConvertOpts): Promise<void> {
  if (o.float16) throw new UsageError('--float16 does not apply to the official model files (the official classes hold float32)');
  const cardPath = join(src, MODEL_FILES.card);
  const card = parseModelCard(readJson(cardPath) ?? null, cardPath);
  const config = { tokenizer: card.tokenizer.config, var: card.var.config };
  const vae = await loadStateDict(join(src, card.tokenizer.file ?? MODEL_FILES.vae));
  const v = await loadStateDict(join(src, card.var.file ?? MODEL_FILES.var));
  const files = await writeOfficialModel(dst, { config, vae, var: v });
  ui.line(dst);
  ui.line(`official model: ${files.config} (VQVAE, ddconfig, VAR arguments), ${files.vae}, ${files.var}`);
  ui.result({ command: 'convert', input: src, output: dst, from: 'model', to: 'official', files, tensors: { vae: vae.size, var: v.size } });
}

/** An official model directory → a var.ts model directory (model-card.json + safetensors). */
async function officialToModel(ui: Ui, src: string, dst: string, o: ConvertOpts): Promise<void> {
  const m = await readOfficialModel(src);
  const id = o.id ?? (dst.split(/[\\/]/).filter(Boolean).pop() || 'custom');
  let classNames: string[] | undefined;
  if (o.classNames !== undefined) {
    classNames = o.classNames.split(',').map((x) => x.trim());
    if (classNames.length !== m.config.var.numClasses || classNames.some((x) => !x)) {
      throw new UsageError(
        `--class-names: the model has ${m.config.var.numClasses} classes; got ${classNames.length} names (${o.classNames})`,
      );
    }
  }
  const dtype = o.float16 ? 'F16' : 'F32';
  const card: ModelCard = parseModelCard({
    ...cardFromConfig(m.config, id, {
      name: id,
      description: `converted from the official model directory ${src}`,
      ...(classNames ? { classNames } : {}),
    }),
    format: MODEL_CARD_FORMAT,
    version: MODEL_CARD_VERSION,
    channels: m.config.tokenizer.inChannels === 1 ? 1 : 3,
    dtype,
    tokenizer: { config: m.config.tokenizer, file: MODEL_FILES.vae },
    var: { config: m.config.var, file: MODEL_FILES.var },
  });
  const conv = (sd: StateDict) => (o.float16 ? toFloat16(sd) : sd);
  await mkdir(dst, { recursive: true });
  const meta = { format: 'pt', 'var-ts.model': id };
  await writeSafetensors(join(dst, MODEL_FILES.vae), conv(m.vae), meta);
  await writeSafetensors(join(dst, MODEL_FILES.var), conv(m.var), meta);
  await writeFileAtomic(join(dst, MODEL_FILES.card), `${JSON.stringify(card, null, 2)}\n`);
  ui.line(dst);
  ui.line(`model directory ${id}: ${MODEL_FILES.card}, ${MODEL_FILES.vae}, ${MODEL_FILES.var} (${dtype})`);
  ui.result({
    command: 'convert',
    input: src,
    output: dst,
    from: 'official',
    to: 'model',
    id,
    dtype,
    tensors: { vae: m.vae.size, var: m.var.size },
  });
}

/** A var.ts VAR run → the official trainer's ar-ckpt-last.pth (+ config.json, vae.pth, var.pth). */
async function exportRun(ui: Ui, src: string, dst: string): Promise<void> {
  const r = await exportOfficialTrainerCheckpoint(src, dst);
  ui.line(r.checkpoint);
  ui.line(`official trainer checkpoint at step ${r.step} (epoch ${r.epoch}, iter ${r.iter}), with ${r.config}, ${r.vae}, ${r.var}`);
  ui.result({ command: 'convert', input: src, output: dst, from: 'run', to: 'official', ...r });
}

/** The official trainer's checkpoint → a var.ts VAR run directory (its checkpoint.safetensors). */
async function importRun(ui: Ui, src: string, dst: string, from: Source): Promise<void> {
  if (from !== 'file')
    throw new UsageError(
      `--to run imports an official trainer checkpoint file (ar-ckpt-last.pth) into a run directory; ${src} is a folder`,
    );
  if (!existsSync(join(dst, 'config.json'))) {
    throw new UsageError(
      `${dst} is not a VAR run directory (no config.json): import into the run you exported, or start one with the same options first (var train var … --stop-after 0 is not needed: any run with this model and tokenizer)`,
    );
  }
  const r = await importOfficialTrainerCheckpoint(src, dst);
  ui.line(r.checkpoint);
  ui.line(
    `imported step ${r.step} (official epoch ${r.officialEpoch}, iter ${r.officialIter}); the run resumes at epoch ${r.epoch}, batch ${r.stepInEpoch}`,
  );
  ui.result({ command: 'convert', input: src, output: dst, from: 'official-trainer', to: 'run', ...r });
}
