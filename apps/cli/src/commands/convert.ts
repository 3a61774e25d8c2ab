import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { CheckpointError } from '@var/core';
import { compareStateDict, detectFormat, formatStateDictReport, loadStateDict, pthToSafetensors, writeSafetensors } from '@var/checkpoint';
import { VQVAE_PRESETS, type VQVAEConfig } from '@var/tokenizer';
import { varPreset, type VARPresetName } from '@var/transformer';
import { resolveModelConfig, toFloat16 } from '@var/models';
import { VAR_PRESETS, analyse, kindOf, tokenizerShapes, transformerShapes } from '../checkpoint.js';
import { UsageError } from '../errors.js';
import { abs, addOutputOptions } from '../model.js';
import type { Ctx, Ui } from '../ui.js';

interface ConvertOpts {
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
    .description('convert an official PyTorch checkpoint (.pth) to safetensors, checking its keys and shapes against a preset or config first')
    .argument('<input>', 'a .pth checkpoint (or a .safetensors file, e.g. to make a float16 copy)')
    .argument('<output>', 'the .safetensors file to write (atomically)')
    .option('--float16', 'store floating-point tensors as float16 (half the size)')
    .option('--preset <name>', `expected model: tokenizer ${Object.keys(VQVAE_PRESETS).join(', ')} or transformer ${VAR_PRESETS.join(', ')}`)
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
  $ var convert ar-ckpt-last.pth var.safetensors --key trainer.var_wo_ddp --config config.json

Nothing is written when the checkpoint does not match the preset/config; the mismatches are listed.`,
  );
  cmd.action(async (input: string, output: string, o: ConvertOpts) => convertAction(ctx.ui(o), input, output, o));
  return cmd;
}

export async function convertAction(ui: Ui, input: string, output: string, o: ConvertOpts): Promise<void> {
  const src = abs(ui.io, input);
  const dst = abs(ui.io, output);
  if (!existsSync(src)) throw new UsageError(`no such file: ${src}`);
  if (existsSync(dst) && !o.force) throw new UsageError(`${dst} exists; pass --force to overwrite it`);
  if (o.preset !== undefined && o.config !== undefined) throw new UsageError('give --preset or --config, not both');
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
      throw new UsageError(`--config: ${t.startsWith('{') ? 'inline JSON' : abs(ui.io, t)} cannot be read as JSON: ${(e as Error).message}`);
    }
    const cfg = resolveModelConfig(raw);
    if (kind === 'unknown') throw new CheckpointError(`${src}: neither a VAR tokenizer nor a transformer state dict (no quantize.embedding.weight, head.weight or blocks.*)`);
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
  if (format === 'pth') {
    const r = await pthToSafetensors(src, dst, { float16: !!o.float16, ...(o.key !== undefined ? { key: o.key } : {}) });
    stats = { tensors: r.tensors, converted: r.converted, overflowed: r.overflowed, dtypes: r.dtypes as Record<string, number> };
  } else {
    const outSd = o.float16 ? toFloat16(sd) : sd;
    await writeSafetensors(dst, outSd, { format: 'pt' });
    const dtypes: Record<string, number> = {};
    for (const t of outSd.values()) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
    stats = { tensors: outSd.size, converted: o.float16 ? [...sd.values()].filter((t) => t.dtype !== 'F16' && t.dtype.startsWith('F') || t.dtype === 'BF16').length : 0, overflowed: 0, dtypes };
  }
  if (stats.overflowed > 0) ui.warn(`${stats.overflowed} finite values became ±Infinity in float16 (|x| > 65504)`);
  ui.line(dst);
  ui.line(`${stats.tensors} tensors (${Object.entries(stats.dtypes).map(([k, v]) => `${v} ${k}`).join(', ')}), ${a.parameters} parameters, kind ${a.kind}`);
  ui.line(expected ? `matches ${expectedName}` : `presets matched: ${a.presetsMatched.length ? a.presetsMatched.join(', ') : 'none'}`);
  ui.result({ command: 'convert', input: src, output: dst, format, kind: a.kind, parameters: a.parameters, presetsMatched: a.presetsMatched, ...stats, ...(check ? { check } : {}) });
}
