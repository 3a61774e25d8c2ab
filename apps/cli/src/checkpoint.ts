/**
 * What a checkpoint is: tokenizer or transformer, its parameter count, and which presets
 * (or a given config) its keys and shapes match.
 */
import { compareStateDict, formatStateDictReport, type StateDict, type StateDictReport } from '@var/checkpoint';
import { VQVAE_PRESETS, stateDictEntries, type VQVAEConfig } from '@var/tokenizer';
import { paramShapes, varPreset, type VARConfig, type VARPresetName } from '@var/transformer';
import type { ModelConfig } from '@var/models';

export type CheckpointKind = 'tokenizer' | 'transformer' | 'unknown';

export const VAR_PRESETS: readonly VARPresetName[] = ['d16', 'd20', 'd24', 'd30', 'd36'];

/** Buffers (not parameters) of the official models. */
export function isBuffer(name: string): boolean {
  return name === 'lvl_1L' || name === 'attn_bias_for_masking' || name.endsWith('attn.zero_k_bias') || name === 'quantize.ema_vocab_hit_SV';
}

export function kindOf(sd: StateDict): CheckpointKind {
  if (sd.has('quantize.embedding.weight') || [...sd.keys()].some((k) => k.startsWith('encoder.'))) return 'tokenizer';
  if (sd.has('head.weight') || sd.has('class_emb.weight') || [...sd.keys()].some((k) => k.startsWith('blocks.'))) return 'transformer';
  return 'unknown';
}

export function countTensorParameters(sd: StateDict): number {
  let n = 0;
  for (const [k, t] of sd) if (!isBuffer(k)) n += t.shape.reduce((a, b) => a * b, 1);
  return n;
}

export function tokenizerShapes(c: VQVAEConfig): Record<string, number[]> {
  return Object.fromEntries(stateDictEntries(c).map((e) => [e.name, e.shape]));
}

export function transformerShapes(c: VARConfig): Record<string, number[]> {
  return Object.fromEntries(paramShapes(c).map((e) => [e.name, e.shape]));
}

/** Expected shapes of every preset of a kind. */
export function presetTables(kind: CheckpointKind): { name: string; shapes: Record<string, number[]> }[] {
  if (kind === 'tokenizer') {
    return Object.entries(VQVAE_PRESETS).map(([name, c]) => ({ name, shapes: tokenizerShapes(c as VQVAEConfig) }));
  }
  if (kind === 'transformer') return VAR_PRESETS.map((name) => ({ name, shapes: transformerShapes(varPreset(name)) }));
  return [];
}

export interface CheckpointAnalysis {
  kind: CheckpointKind;
  tensors: number;
  parameters: number;
  dtypes: Record<string, number>;
  presetsMatched: string[];
  /** Against the given config, when one was given. */
  config?: { ok: boolean; report: StateDictReport; text: string };
}

export function analyse(sd: StateDict, config?: ModelConfig): CheckpointAnalysis {
  const kind = kindOf(sd);
  const dtypes: Record<string, number> = {};
  for (const t of sd.values()) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  const presetsMatched = presetTables(kind)
    .filter((p) => compareStateDict(sd, p.shapes).ok)
    .map((p) => p.name);
  const out: CheckpointAnalysis = { kind, tensors: sd.size, parameters: countTensorParameters(sd), dtypes, presetsMatched };
  if (config && kind !== 'unknown') {
    const shapes = kind === 'tokenizer' ? tokenizerShapes(config.tokenizer) : transformerShapes(config.var);
    const report = compareStateDict(sd, shapes);
    out.config = { ok: report.ok, report, text: formatStateDictReport(report) };
  }
  return out;
}
