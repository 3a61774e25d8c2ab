import { join } from 'node:path';
import { Command } from 'commander';
import { Rng } from '@var/core';
import { makeGrid, tensorToImages, writePng, type RawImage } from '@var/data';
import { disposeModel } from '@var/models';
import { generate } from '@var/sampling';
import type { Ctx, Ui } from '../ui.js';
import {
  abs,
  addBackendOptions,
  addModelOptions,
  addOutputOptions,
  className,
  imageChannels,
  intOpt,
  numOpt,
  parseClasses,
  resolveModel,
  slug,
  startBackend,
  toSigned,
  type ModelOptions,
} from '../model.js';

interface GenerateOpts extends ModelOptions {
  class?: string[];
  count?: string;
  seed?: string;
  cfg?: string;
  topK?: string;
  topP?: string;
  moreSmooth?: boolean;
  out: string;
  batch?: string;
  grid: boolean;
  cols?: string;
  progression?: boolean;
  json?: boolean;
  verbose?: boolean;
}

export function generateCommand(ctx: Ctx): Command {
  const cmd = new Command('generate')
    .description('generate class-conditional images: one PNG per image and a labelled grid')
    .option('-c, --class <names...>', 'class names or indices, comma-separated or repeated; "uncond" for unconditional (default: every class)')
    .option('-n, --count <n>', 'images per class (default 1)')
    .option('-s, --seed <n>', 'random seed (default: random; printed, so a run can be repeated)')
    .option('--cfg <x>', 'classifier-free guidance strength ≥ 0 (default: the model card\'s, else 1.5)')
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off; default: the model card\'s, else 0)')
    .option('--top-p <p>', 'nucleus sampling threshold in (0, 1) (0 = off)')
    .option('--more-smooth', 'the official "more smooth" Gumbel-softmax preview (not for evaluation)')
    .option('-o, --out <dir>', 'output directory', 'var-out')
    .option('--batch <n>', 'images per forward pass (bounds memory; the images of a seed depend on it)', '16')
    .option('--no-grid', 'do not write grid.png')
    .option('--cols <n>', 'grid columns (default: one row per class with --count > 1, else 10 per row)')
    .option('--progression', 'also write a per-scale strip per image: the image after each scale');
  addModelOptions(cmd);
  addBackendOptions(cmd);
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ var generate                                   # one image of every class of the bundled model
  $ var generate --class 3,7 --count 4 --seed 1    # 4 threes and 4 sevens, reproducible
  $ var generate --class uncond -n 8 --cfg 0       # unconditional
  $ var generate --vae vae.pth --var var_d16.pth --preset d16 --class 207 --top-k 900 --top-p 0.95
  $ var generate --class 5 --progression --json    # with the per-scale strip, machine-readable`,
  );
  cmd.action(async (o: GenerateOpts) => generateAction(ctx.ui(o), o));
  return cmd;
}

export async function generateAction(ui: Ui, o: GenerateOpts): Promise<void> {
  const spec = await resolveModel(ui.io, o);
  const { card } = spec;
  const numClasses = card.var.config.numClasses;
  const classes = parseClasses(o.class, card) ?? Array.from({ length: numClasses }, (_, i) => i);
  const count = intOpt('--count', o.count, 1, 1, 100000);
  const seed = intOpt('--seed', o.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1);
  const cfg = numOpt('--cfg', o.cfg, card.sampling?.cfg ?? 1.5, 0);
  const topK = intOpt('--top-k', o.topK, card.sampling?.topK ?? 0, 0);
  const topP = numOpt('--top-p', o.topP, card.sampling?.topP ?? 0, 0, 1);
  const batch = intOpt('--batch', o.batch, 16, 1, 4096);
  const labels = classes.flatMap((c) => new Array<number>(count).fill(c));
  // one row per class when several images per class, else up to 10 per row
  const cols = intOpt('--cols', o.cols, count > 1 ? count : Math.min(labels.length, 10), 1);
  const outDir = abs(ui.io, o.out);
  const channels = imageChannels(card);

  const backend = await startBackend(o, ui);
  const t0 = performance.now();
  const model = await spec.load();
  const loadSeconds = (performance.now() - t0) / 1000;
  const S = model.var.config.patchNums.length;
  const rng = new Rng(seed);
  const files: { file: string; label: number; className: string; progression?: string }[] = [];
  const images: RawImage[] = [];
  const bar = ui.progress('generate', labels.length * S);
  const t1 = performance.now();
  try {
    for (let b0 = 0; b0 < labels.length; b0 += batch) {
      const lab = labels.slice(b0, b0 + batch);
      const strips: RawImage[][] = lab.map(() => []);
      const r = await generate(model.vae, model.var, {
        labels: lab,
        cfg,
        topK,
        topP,
        rng,
        moreSmooth: !!o.moreSmooth,
        previews: !!o.progression,
        signal: ui.io.signal,
        onScale: async (ev) => {
          bar.update(b0 * S + (ev.si + 1) * lab.length, `images ${b0 + 1}-${b0 + lab.length}, scale ${ev.si + 1}/${S} (${ev.pn}×${ev.pn})`);
          if (ev.preview) {
            const signed = toSigned(ev.preview, channels);
            try {
              (await tensorToImages(signed)).forEach((im, i) => strips[i].push(im));
            } finally {
              signed.dispose();
            }
          }
        },
      });
      let batchImages: RawImage[];
      try {
        const signed = toSigned(r.images!, channels);
        try {
          batchImages = await tensorToImages(signed);
        } finally {
          signed.dispose();
        }
      } finally {
        r.images?.dispose();
        r.fHat.dispose();
      }
      for (let i = 0; i < lab.length; i++) {
        const idx = b0 + i;
        const name = className(card, lab[i]);
        const file = join(outDir, `${String(idx).padStart(4, '0')}-${slug(name)}.png`);
        await writePng(file, batchImages[i]);
        const entry: (typeof files)[number] = { file, label: lab[i], className: name };
        if (o.progression) {
          const strip = makeGrid(strips[i], { cols: S, labels: model.var.config.patchNums.map((pn) => `${pn}x${pn}`) });
          const pf = join(outDir, `${String(idx).padStart(4, '0')}-${slug(name)}-progression.png`);
          await writePng(pf, strip);
          entry.progression = pf;
        }
        files.push(entry);
        images.push(batchImages[i]);
        ui.line(entry.file);
        if (entry.progression) ui.line(entry.progression);
      }
    }
  } finally {
    bar.stop();
    disposeModel(model);
  }
  const seconds = (performance.now() - t1) / 1000;
  let grid: string | undefined;
  if (o.grid !== false) {
    grid = join(outDir, 'grid.png');
    await writePng(grid, makeGrid(images, { cols, labels: files.map((f) => f.className) }));
    ui.line(grid);
  }
  ui.debug(`seed ${seed}, ${labels.length} images in ${seconds.toFixed(2)} s on ${backend.name}`);
  ui.result({
    command: 'generate',
    model: spec.label,
    backend: backend.name,
    seed,
    cfg,
    topK,
    topP,
    moreSmooth: !!o.moreSmooth,
    size: images[0] ? { width: images[0].width, height: images[0].height, channels: images[0].channels } : null,
    images: files,
    grid: grid ?? null,
    seconds: { load: round(loadSeconds), generate: round(seconds), perImage: round(seconds / labels.length) },
  });
  if (!ui.json) ui.io.stderr(`var: ${labels.length} image(s) in ${seconds.toFixed(1)} s on ${backend.name}, seed ${seed} (repeat with --seed ${seed})\n`);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
