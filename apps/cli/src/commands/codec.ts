import { existsSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs-core';
import { ValueError } from '@var/core';
import { readSafetensors, serializeSafetensors, toInt32Array, type StateDict } from '@var/checkpoint';
import { imagesToTensor, makeGrid, readBytes, readImage, tensorToImages, writeFileAtomic, writePng, type RawImage } from '@var/data';
import type { VQVAE } from '@var/tokenizer';
import { UsageError } from '../errors.js';
import {
  abs,
  addBackendOptions,
  addModelOptions,
  addOutputOptions,
  imageChannels,
  loadTokenizer,
  resolveModel,
  slug,
  startBackend,
  type ModelOptions,
} from '../model.js';
import type { Ctx, Ui } from '../ui.js';

export const TOKENS_FORMAT = 'var-ts-tokens';

/** Multi-scale tokens of a batch of images, as written by `var encode`. */
export interface TokenFile {
  format: typeof TOKENS_FORMAT;
  patchNums: number[];
  /** Per scale, per image, pn·pn token indices (row-major). */
  tokens: number[][][];
  images?: string[];
  model?: string;
}

interface EncodeOpts extends ModelOptions {
  out: string;
  reconstructions?: string;
  json?: boolean;
  verbose?: boolean;
}

interface DecodeOpts extends ModelOptions {
  out: string;
  perScale?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function codecCommands(ctx: Ctx): Command[] {
  const enc = new Command('encode')
    .description(
      "tokenize images into VAR's multi-scale tokens (safetensors or JSON), optionally writing the reconstruction after every scale",
    )
    .argument('<images...>', 'PNG or JPEG files (resized/cropped to the model size)')
    .option('-o, --out <file>', 'tokens file: .safetensors (int32 tensors scale.0, scale.1, …) or .json', 'tokens.safetensors')
    .option('--reconstructions <dir>', 'write <image>-scales.png: the reconstruction after each scale');
  addModelOptions(enc);
  addBackendOptions(enc);
  addOutputOptions(enc);
  enc.addHelpText(
    'after',
    `
Examples:
  $ var encode digit.png --out tokens.json
  $ var encode a.png b.png --out tokens.safetensors --reconstructions recon/
  $ var encode photo.jpg --vae vae_ch160v4096z32.pth --preset d16 --out tokens.safetensors`,
  );
  enc.action(async (images: string[], o: EncodeOpts) => encodeAction(ctx.ui(o), images, o));

  const dec = new Command('decode')
    .description('decode multi-scale tokens (from `var encode` or generation) back to images')
    .argument('<tokens>', 'a tokens file (.safetensors or .json)')
    .option('-o, --out <dir>', 'output directory', 'var-out')
    .option('--per-scale', 'also write <n>-scales.png: the image after each scale');
  addModelOptions(dec);
  addBackendOptions(dec);
  addOutputOptions(dec);
  dec.addHelpText(
    'after',
    `
Examples:
  $ var decode tokens.json --out decoded/
  $ var decode tokens.safetensors --per-scale --json`,
  );
  dec.action(async (file: string, o: DecodeOpts) => decodeAction(ctx.ui(o), file, o));
  return [enc, dec];
}

async function toImages(x: tf.Tensor4D, channels: 1 | 3): Promise<RawImage[]> {
  const y = channels === 1 && x.shape[1] !== 1 ? (tf.tidy(() => tf.mean(x, 1, true)) as tf.Tensor4D) : x;
  try {
    return await tensorToImages(y);
  } finally {
    if (y !== x) y.dispose();
  }
}

export async function writeTokens(path: string, t: TokenFile): Promise<void> {
  if (extname(path).toLowerCase() === '.json') {
    await writeFileAtomic(path, new TextEncoder().encode(`${JSON.stringify(t)}\n`));
    return;
  }
  const sd: StateDict = new Map();
  t.patchNums.forEach((pn, si) => {
    const B = t.tokens[si].length;
    const data = new Int32Array(B * pn * pn);
    t.tokens[si].forEach((row, b) => data.set(row, b * pn * pn));
    sd.set(`scale.${si}`, { dtype: 'I32', shape: [B, pn * pn], data });
  });
  const meta: Record<string, string> = { format: TOKENS_FORMAT, patch_nums: JSON.stringify(t.patchNums) };
  if (t.images) meta.images = JSON.stringify(t.images);
  if (t.model) meta.model = t.model;
  await writeFileAtomic(path, serializeSafetensors(sd, meta));
}

export async function readTokens(path: string): Promise<TokenFile> {
  if (extname(path).toLowerCase() === '.json') {
    const j = JSON.parse(new TextDecoder().decode(await readBytes(path)));
    if (!j || !Array.isArray(j.patchNums) || !Array.isArray(j.tokens) || j.tokens.length !== j.patchNums.length) {
      throw new ValueError(`${path}: not a tokens file (expected { patchNums: number[], tokens: number[scale][image][pn*pn] })`);
    }
    return j as TokenFile;
  }
  const st = await readSafetensors(path);
  const pnRaw = st.metadata?.patch_nums;
  if (!pnRaw) throw new ValueError(`${path}: not a tokens file (safetensors metadata has no patch_nums; write one with var encode)`);
  const patchNums = JSON.parse(pnRaw) as number[];
  const tokens = patchNums.map((pn, si) => {
    const t = st.tensors.get(`scale.${si}`);
    if (t?.shape.length !== 2 || t.shape[1] !== pn * pn)
      throw new ValueError(`${path}: tensor scale.${si} must be (B, ${pn * pn}); found ${t ? `(${t.shape.join(', ')})` : 'none'}`);
    const d = toInt32Array(t);
    return Array.from({ length: t.shape[0] }, (_, b) => Array.from(d.subarray(b * pn * pn, (b + 1) * pn * pn)));
  });
  return {
    format: TOKENS_FORMAT,
    patchNums,
    tokens,
    ...(st.metadata?.images ? { images: JSON.parse(st.metadata.images) } : {}),
    ...(st.metadata?.model ? { model: st.metadata.model } : {}),
  };
}

async function scaleStrip(vae: VQVAE, input: tf.Tensor4D | tf.Tensor2D[], channels: 1 | 3): Promise<RawImage[][]> {
  const recs = vae.reconstructionsPerScale(input);
  try {
    const perScale: RawImage[][] = [];
    for (const r of recs) perScale.push(await toImages(r, channels));
    return perScale[0].map((_, b) => perScale.map((s) => s[b]));
  } finally {
    recs.forEach((r) => r.dispose());
  }
}

export async function encodeAction(ui: Ui, images: string[], o: EncodeOpts): Promise<void> {
  const spec = await resolveModel(ui.io, o, false);
  const paths = images.map((p) => abs(ui.io, p));
  for (const p of paths) if (!existsSync(p)) throw new UsageError(`no such image: ${p}`);
  const out = abs(ui.io, o.out);
  const backend = await startBackend(o, ui);
  const vae = await loadTokenizer(spec);
  const channels = imageChannels(spec.card);
  try {
    const raws = await Promise.all(paths.map((p) => readImage(p)));
    const x = imagesToTensor(raws, { channels: vae.config.inChannels === 1 ? 1 : 3, size: vae.imageSize });
    let tokens: number[][][];
    try {
      const idx = vae.imgToIdx(x);
      try {
        tokens = [];
        for (const [si, t] of idx.entries()) {
          const d = await t.data();
          const pn = vae.config.vPatchNums[si];
          tokens.push(raws.map((_, b) => Array.from(d.subarray(b * pn * pn, (b + 1) * pn * pn))));
        }
      } finally {
        idx.forEach((t) => t.dispose());
      }
      await writeTokens(out, {
        format: TOKENS_FORMAT,
        patchNums: [...vae.config.vPatchNums],
        tokens,
        images: paths.map((p) => basename(p)),
        model: spec.label,
      });
      ui.line(out);
      const recFiles: string[] = [];
      if (o.reconstructions) {
        const dir = abs(ui.io, o.reconstructions);
        const strips = await scaleStrip(vae, x, channels);
        for (const [b, strip] of strips.entries()) {
          const f = join(dir, `${slug(basename(paths[b], extname(paths[b])))}-scales.png`);
          await writePng(f, makeGrid(strip, { cols: strip.length, labels: vae.config.vPatchNums.map((pn) => `${pn}x${pn}`) }));
          recFiles.push(f);
          ui.line(f);
        }
      }
      ui.result({
        command: 'encode',
        backend: backend.name,
        output: out,
        images: paths,
        patchNums: vae.config.vPatchNums,
        tokensPerImage: vae.config.vPatchNums.reduce((a, p) => a + p * p, 0),
        reconstructions: recFiles,
      });
    } finally {
      x.dispose();
    }
  } finally {
    vae.dispose();
  }
}

export async function decodeAction(ui: Ui, file: string, o: DecodeOpts): Promise<void> {
  const spec = await resolveModel(ui.io, o, false);
  const path = abs(ui.io, file);
  if (!existsSync(path)) throw new UsageError(`no such tokens file: ${path}`);
  const tf_ = await readTokens(path);
  const pq = spec.card.tokenizer.config.vPatchNums;
  if (tf_.patchNums.length !== pq.length || tf_.patchNums.some((p, i) => p !== pq[i])) {
    throw new ValueError(`${path}: tokens of scales (${tf_.patchNums.join(',')}) but the model's tokenizer uses (${pq.join(',')})`);
  }
  const V = spec.card.tokenizer.config.vocabSize;
  for (const s of tf_.tokens)
    for (const row of s)
      for (const v of row)
        if (!Number.isInteger(v) || v < 0 || v >= V) throw new ValueError(`${path}: token ${v} outside the vocabulary [0, ${V})`);
  const out = abs(ui.io, o.out);
  const backend = await startBackend(o, ui);
  const vae = await loadTokenizer(spec);
  const channels = imageChannels(spec.card);
  const B = tf_.tokens[0].length;
  const idx = tf_.tokens.map((s, si) => tf.tensor2d(Int32Array.from(s.flat()), [B, tf_.patchNums[si] ** 2], 'int32'));
  const files: string[] = [];
  try {
    const img = vae.idxToImg(idx);
    let ims: RawImage[];
    try {
      ims = await toImages(img, channels);
    } finally {
      img.dispose();
    }
    const names =
      tf_.images?.length === B ? tf_.images.map((n) => slug(basename(n, extname(n)))) : ims.map((_, b) => String(b).padStart(4, '0'));
    for (const [b, im] of ims.entries()) {
      const f = join(out, `${names[b]}-decoded.png`);
      await writePng(f, im);
      files.push(f);
      ui.line(f);
    }
    if (o.perScale) {
      const strips = await scaleStrip(vae, idx, channels);
      for (const [b, strip] of strips.entries()) {
        const f = join(out, `${names[b]}-scales.png`);
        await writePng(f, makeGrid(strip, { cols: strip.length, labels: tf_.patchNums.map((pn) => `${pn}x${pn}`) }));
        files.push(f);
        ui.line(f);
      }
    }
  } finally {
    idx.forEach((t) => t.dispose());
    vae.dispose();
  }
  ui.result({ command: 'decode', backend: backend.name, input: path, images: files });
}
