/** Test helpers: load the fixture case's models and parse the recorded official calls. */
import { loadStateDict } from '@var/checkpoint';
import { VQVAE, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import type { FixtureCase } from '@var/test-helpers';
import type { EditRect } from '../src/index.js';

export interface Models {
  vae: VQVAE;
  model: VAR;
  dispose(): void;
}

export async function loadModels(fc: FixtureCase): Promise<Models> {
  const vae = VQVAE.fromStateDict((await loadStateDict(fc.path('vae.safetensors'))) as never, vqvaeConfig(fc.config.VQVAE));
  const model = VAR.fromStateDict(varConfig(fc.config.VAR, fc.config.VQVAE), (await loadStateDict(fc.path('var.safetensors'))) as never);
  return {
    vae,
    model,
    dispose: () => {
      vae.dispose();
      model.dispose();
    },
  };
}

export interface RunCall {
  B: number;
  labels: Int32Array;
  cfg: number;
  topK: number;
  topP: number;
  seed: number;
  moreSmooth: boolean;
  mask?: EditRect;
}

/** Arguments of a recorded `autoregressive_infer_cfg(...)` / `autoregressive_infer_cfg_with_mask(...)` call. */
export function parseRunCall(fc: FixtureCase, call: string): RunCall {
  const arg = (name: string): string => {
    const m = new RegExp(`\\b${name}=([^,)]+)`).exec(call);
    if (!m) throw new Error(`no ${name}= in call: ${call}`);
    return m[1].trim();
  };
  const B = Number(arg('B'));
  const lb = arg('label_B');
  const numClasses: number = fc.config.VAR.num_classes;
  let labels: Int32Array;
  if (lb === 'label') labels = Int32Array.from(fc.ref('label').data as Int32Array);
  else if (/^-?\d+$/.test(lb)) labels = new Int32Array(B).fill(Number(lb) < 0 ? numClasses : Number(lb));
  else throw new Error(`unsupported label_B=${lb}`);
  if (labels.length !== B) throw new Error(`label count ${labels.length} != B=${B}`);
  const out: RunCall = {
    B,
    labels,
    cfg: Number(arg('cfg')),
    topK: Number(arg('top_k')),
    topP: Number(arg('top_p')),
    seed: Number(arg('g_seed')),
    moreSmooth: arg('more_smooth') === 'True',
  };
  const m = /get_edit_mask\(var\.patch_nums,\s*([-\d.e]+),\s*([-\d.e]+),\s*([-\d.e]+),\s*([-\d.e]+),.*?inpainting=(True|False)\)/.exec(
    call,
  );
  if (m) out.mask = { y0: +m[1], x0: +m[2], y1: +m[3], x1: +m[4], inpainting: m[5] === 'True' };
  return out;
}
