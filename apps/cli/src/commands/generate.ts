import { join } from 'node:path';
import { Command } from 'commander';
import { makeGrid, writePng, type RawImage } from '@var/data';
import { loadGenerator, type GeneratedImage } from '@var/pipeline';
import type { Ctx, Ui } from '../ui.js';
import {
  abs,
  addBackendOptions,
  addModelOptions,
  addOutputOptions,
  intOpt,
  numOpt,
  parseClasses,
  resolveModel,
  slug,
  startBackend,
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
    .option(
      '-c, --class <names...>',
      'class names or indices, comma-separated or repeated; "uncond" for unconditional (default: every class)',
    )
    .option('-n, --count <n>', 'images per class (default 1)')
    .option('-s, --seed <n>', 'random seed (default: random; printed, so a run can be repeated)')
    .option('--cfg <x>', "classifier-free guidance strength ≥ 0 (default: the model card's, else 1.5)")
    .option('--top-k <k>', "keep the k most likely tokens (0 = off; default: the model card's, else 0)")
    .option('--top-p <p>', 'nucleus sampling threshold in (0, 1) (0 = off)')
    .option('--more-smooth', 'the official "more smooth" Gumbel-softmax preview (not for evaluation)')
    .option('-o, --out <dir>', 'output directory', 'var-out')
    .option(
      '--batch <n>',
      'images per generation (a batch larger than memory allows runs in chunks that fit; the images of a seed depend on it)',
      '16',
    )
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
  $ var generate --vae vae.pth --var var_d16.pth --preset d16 --class "golden retriever"   # ImageNet names or indices; official sampling
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
  // unset options: the pipeline applies the model card's sampling
  const cfg = o.cfg !== undefined ? numOpt('--cfg', o.cfg, 0, 0) : undefined;
  const topK = o.topK !== undefined ? intOpt('--top-k', o.topK, 0, 0) : undefined;
  const topP = o.topP !== undefined ? numOpt('--top-p', o.topP, 0, 0, 1) : undefined;
  const batch = intOpt('--batch', o.batch, 16, 1, 4096);
  const total = classes.length * count;
  // one row per class when several images per class, else up to 10 per row
  const cols = intOpt('--cols', o.cols, count > 1 ? count : Math.min(total, 10), 1);
  const outDir = abs(ui.io, o.out);

  const backend = await startBackend(o, ui);
  const t0 = performance.now();
  const gen = await loadGenerator(spec.source, { backend: null });
  const loadSeconds = (performance.now() - t0) / 1000;
  const patchNums = gen.models.var.config.patchNums;
  const S = patchNums.length;
  const strips: RawImage[][] = Array.from({ length: total }, () => []);
  const files: { file: string; label: number; className: string; progression?: string }[] = [];
  const write = async (im: GeneratedImage) => {
    const stem = join(outDir, `${String(im.index).padStart(4, '0')}-${slug(im.className)}`);
    const entry: (typeof files)[number] = { file: `${stem}.png`, label: im.label, className: im.className };
    await writePng(entry.file, im.pixels);
    if (o.progression) {
      entry.progression = `${stem}-progression.png`;
      await writePng(entry.progression, makeGrid(strips[im.index], { cols: S, labels: patchNums.map((pn) => `${pn}x${pn}`) }));
    }
    files.push(entry);
    ui.line(entry.file);
    if (entry.progression) ui.line(entry.progression);
  };
  const bar = ui.progress('generate', total * S);
  let result: Awaited<ReturnType<typeof gen.generate>>;
  try {
    result = await gen.generate({
      classes,
      count,
      seed,
      ...(cfg !== undefined ? { cfg } : {}),
      ...(topK !== undefined ? { topK } : {}),
      ...(topP !== undefined ? { topP } : {}),
      ...(o.moreSmooth ? { moreSmooth: true } : {}),
      batchSize: batch,
      previews: !!o.progression,
      ...(ui.io.signal ? { signal: ui.io.signal } : {}),
      onScale: (ev) => {
        const n = ev.tokens.length / (ev.pn * ev.pn);
        bar.update(
          ev.batchStart * S + (ev.si + 1) * n,
          `images ${ev.batchStart + 1}-${ev.batchStart + n}, scale ${ev.si + 1}/${S} (${ev.pn}×${ev.pn})`,
        );
        ev.previews?.forEach((p) => strips[p.index].push(p.pixels));
      },
      onBatch: async (images) => {
        for (const im of images) await write(im);
      },
    });
  } finally {
    bar.stop();
    gen.dispose();
  }
  const seconds = result.seconds;
  let grid: string | undefined;
  if (o.grid !== false) {
    grid = join(outDir, 'grid.png');
    await writePng(
      grid,
      makeGrid(
        result.images.map((im) => im.pixels),
        { cols, labels: files.map((f) => f.className) },
      ),
    );
    ui.line(grid);
  }
  const first = result.images[0];
  ui.debug(`seed ${seed}, ${total} images in ${seconds.toFixed(2)} s on ${backend.name}`);
  ui.result({
    command: 'generate',
    model: spec.label,
    backend: backend.name,
    seed,
    ...result.sampling,
    size: first ? { width: first.width, height: first.height, channels: first.channels } : null,
    images: files,
    grid: grid ?? null,
    seconds: { load: round(loadSeconds), generate: round(seconds), perImage: round(seconds / total) },
  });
  if (!ui.json)
    ui.io.stderr(`var: ${total} image(s) in ${seconds.toFixed(1)} s on ${backend.name}, seed ${seed} (repeat with --seed ${seed})\n`);
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
