import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { availableBackends, initBackend, type BackendAvailability } from '@var/core';
import { loadStateDict } from '@var/checkpoint';
import { countParameters as vaeParams } from '@var/tokenizer';
import { countParameters as varParams } from '@var/transformer';
import {
  MODEL_FILES,
  getModelCard,
  listModels,
  parseModelCard,
  presetConfig,
  resolveModelConfig,
  type ModelCard,
  type ModelConfig,
} from '@var/models';
import { analyse, type CheckpointAnalysis } from '../checkpoint.js';
import { UsageError } from '../errors.js';
import { abs, addOutputOptions } from '../model.js';
import type { Ctx, Ui } from '../ui.js';

interface InfoOpts {
  config?: string;
  preset?: string;
  backends: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function infoCommand(ctx: Ctx): Command {
  const cmd = new Command('info')
    .description(
      'describe a bundled model, a model directory or a checkpoint (config, parameter count, presets matched), and the backends available here',
    )
    .argument('[target]', 'model id, model directory, or a .pth / .safetensors checkpoint (default: list the bundled models)')
    .option('--config <json>', 'check a checkpoint against this model config (file or inline JSON)')
    .option('--preset <name>', 'check a checkpoint against a preset (d16, d20, d24, d30)')
    .option('--no-backends', 'skip probing the backends');
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ var info                         # bundled models + backends (and the one --backend auto picks)
  $ var info mnist                   # the model card of a bundled model
  $ var info var_d16.pth             # kind, parameter count, presets matched (d16)
  $ var info var.pth --config config.json --json`,
  );
  cmd.action(async (target: string | undefined, o: InfoOpts) => infoAction(ctx.ui(o), target, o));
  return cmd;
}

function cardSummary(card: ModelCard): Record<string, unknown> {
  return {
    id: card.id,
    name: card.name,
    dataset: card.dataset,
    classes: card.classNames.length,
    imageSize: card.imageSize,
    parameters: { tokenizer: vaeParams(card.tokenizer.config), transformer: varParams(card.var.config) },
    training: card.training,
    quality: card.quality,
  };
}

function humanCount(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

export async function infoAction(ui: Ui, target: string | undefined, o: InfoOpts): Promise<void> {
  const out: Record<string, unknown> = { command: 'info' };
  if (target === undefined) {
    const models = await listModels();
    out.models = models.map((m) => ({
      id: m.id,
      name: m.name,
      bundled: m.bundled,
      dataset: m.dataset,
      ...(m.card ? { card: cardSummary(m.card) } : {}),
    }));
    ui.line('models:');
    for (const m of models) ui.line(`  ${m.id.padEnd(10)} ${m.bundled ? 'bundled    ' : 'not bundled'} ${m.name}`);
  } else {
    const p = abs(ui.io, target);
    const isFile = existsSync(p) && statSync(p).isFile();
    const isDir = existsSync(p) && statSync(p).isDirectory();
    if (isFile) {
      let config: ModelConfig | undefined;
      if (o.preset !== undefined) config = presetConfig(o.preset);
      else if (o.config !== undefined) {
        const t = o.config.trim();
        config = resolveModelConfig(JSON.parse(t.startsWith('{') ? t : readFileSync(abs(ui.io, t), 'utf8')));
      }
      const sd = await loadStateDict(p);
      const a: CheckpointAnalysis = analyse(sd, config);
      out.checkpoint = {
        file: p,
        kind: a.kind,
        tensors: a.tensors,
        parameters: a.parameters,
        dtypes: a.dtypes,
        presetsMatched: a.presetsMatched,
        ...(a.config
          ? {
              configMatch: {
                ok: a.config.ok,
                missing: a.config.report.missing,
                unexpected: a.config.report.unexpected,
                mismatched: a.config.report.mismatched,
              },
            }
          : {}),
      };
      ui.line(`checkpoint: ${p}`);
      ui.line(`kind: ${a.kind}`);
      ui.line(
        `tensors: ${a.tensors} (${Object.entries(a.dtypes)
          .map(([k, v]) => `${v} ${k}`)
          .join(', ')})`,
      );
      ui.line(`parameters: ${a.parameters} (${humanCount(a.parameters)})`);
      ui.line(`presets matched: ${a.presetsMatched.length ? a.presetsMatched.join(', ') : 'none'}`);
      if (a.config) for (const l of a.config.text.split('\n')) ui.line(`config: ${l}`);
    } else if (isDir || !/[\\/]/.test(target)) {
      let card: ModelCard;
      if (isDir) {
        const f = join(p, MODEL_FILES.card);
        if (!existsSync(f)) throw new UsageError(`${p} is not a model directory (no ${MODEL_FILES.card})`);
        card = parseModelCard(JSON.parse(readFileSync(f, 'utf8')), f);
      } else card = await getModelCard(target);
      const s = cardSummary(card);
      out.model = { ...s, card };
      const params = s.parameters as { tokenizer: number; transformer: number };
      ui.line(`model: ${card.id} — ${card.name}`);
      ui.line(`dataset: ${card.dataset.name}`);
      ui.line(`classes: ${card.classNames.length} (${card.classNames.slice(0, 12).join(', ')}${card.classNames.length > 12 ? ', …' : ''})`);
      ui.line(`image size: ${card.imageSize ?? '?'} px; scales: ${card.var.config.patchNums.join(',')}`);
      ui.line(
        `parameters: tokenizer ${params.tokenizer} (${humanCount(params.tokenizer)}), transformer ${params.transformer} (${humanCount(params.transformer)})`,
      );
      ui.line(
        `transformer: depth ${card.var.config.depth}, width ${card.var.config.embedDim}, heads ${card.var.config.numHeads}; tokenizer: V ${card.tokenizer.config.vocabSize}, Cvae ${card.tokenizer.config.zChannels}`,
      );
      if (card.training) ui.line(`training: ${JSON.stringify(card.training)}`);
      if (card.quality) ui.line(`quality: ${JSON.stringify(card.quality)}`);
      for (const r of card.reproduce ?? []) ui.line(`reproduce: ${r}`);
    } else {
      throw new UsageError(`no such file or model: ${target}`);
    }
  }
  if (o.backends !== false) {
    const avail: BackendAvailability[] = await availableBackends();
    let auto: { name: string; reason: string } | { error: string };
    try {
      const info = await initBackend('auto');
      auto = { name: info.name, reason: info.reason };
    } catch (e) {
      auto = { error: (e as Error).message };
    }
    out.backends = { available: avail, auto };
    ui.line('backends:');
    for (const b of avail) ui.line(`  ${b.name.padEnd(10)} ${b.available ? 'available    ' : 'unavailable  '} ${b.reason}`);
    ui.line('name' in auto ? `auto picks: ${auto.name}` : `auto: ${auto.error}`);
  }
  ui.result(out);
}
