import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import { Command } from 'commander';
import { convertChannels, makeGrid, readImage, writeFileAtomic, writePng, type RawImage } from '@var/data';
import { loadGenerator } from '@var/pipeline';
import type { EditRect, ImageLikeMask } from '@var/sampling';
import { UsageError } from '../errors.js';
import {
  abs,
  addBackendOptions,
  addModelOptions,
  addOutputOptions,
  className,
  intOpt,
  numOpt,
  parseClasses,
  resolveModel,
  startBackend,
  type ModelOptions,
} from '../model.js';
import type { Ctx, Ui } from '../ui.js';

interface EditOpts extends ModelOptions {
  rect?: string;
  outpaint?: boolean;
  mask?: string;
  class?: string;
  seed?: string;
  cfg?: string;
  topK?: string;
  topP?: string;
  moreSmooth?: boolean;
  out: string;
  strip?: string;
  tokensOut?: string;
  json?: boolean;
  verbose?: boolean;
}

export function editCommand(ctx: Ctx): Command {
  const cmd = new Command('edit')
    .description('zero-shot editing: in-paint, out-paint or class-edit an image inside a rectangle or a mask')
    .argument('<image>', 'the PNG or JPEG image to edit (resized/cropped to the model size)')
    .option('--rect <y0,x0,y1,x1>', 'region to regenerate, as fractions of the image (0…1), e.g. 0.25,0.25,0.75,0.75')
    .option('--outpaint', 'with --rect: keep the rectangle and regenerate everything outside it')
    .option('--mask <png>', 'mask image instead of --rect: white = regenerate, black = keep')
    .option('-c, --class <name>', 'class of the regenerated region (a name or index; "uncond" for none; default uncond)')
    .option('-s, --seed <n>', 'random seed (default: random; printed)')
    .option('--cfg <x>', 'classifier-free guidance strength ≥ 0')
    .option('--top-k <k>', 'keep the k most likely tokens (0 = off)')
    .option('--top-p <p>', 'nucleus sampling threshold (0 = off)')
    .option('--more-smooth', 'Gumbel-softmax "more smooth" preview')
    .option('-o, --out <file>', 'the edited image (PNG)', 'edited.png')
    .option('--strip <file>', 'also write a before / mask / after strip (PNG)')
    .option('--tokens-out <file>', 'also write the edited tokens and the per-scale keep masks (.json or .safetensors)');
  addModelOptions(cmd);
  addBackendOptions(cmd);
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ var edit digit.png --rect 0,0,0.5,1 --class 7 --seed 3       # regenerate the top half as a 7
  $ var edit digit.png --rect 0.2,0.2,0.8,0.8 --outpaint           # keep the centre, regenerate the border
  $ var edit photo.png --mask mask.png --class "golden retriever" --strip strip.png --vae vae.pth --var var_d16.pth --preset d16`,
  );
  cmd.action(async (image: string, o: EditOpts) => editAction(ctx.ui(o), image, o));
  return cmd;
}

function parseRect(s: string, outpaint: boolean): EditRect {
  const parts = s.split(',').map((v) => v.trim());
  const nums = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || n < 0 || n > 1)) {
    throw new UsageError(`--rect must be four fractions y0,x0,y1,x1 in [0, 1]; got ${JSON.stringify(s)}`);
  }
  const [y0, x0, y1, x1] = nums;
  if (!(y1 > y0 && x1 > x0)) throw new UsageError(`--rect must have y1 > y0 and x1 > x0; got ${s}`);
  return { y0, x0, y1, x1, inpainting: !outpaint };
}

/** A gray mask image (white = regenerate) → the sampler's keep mask (1 = keep). */
function keepMaskFrom(img: RawImage): ImageLikeMask {
  const gray = convertChannels(img, 1, { background: 0 });
  const data = new Uint8Array(gray.data.length);
  for (let i = 0; i < data.length; i++) data[i] = 255 - gray.data[i];
  return { width: gray.width, height: gray.height, data };
}

export async function editAction(ui: Ui, image: string, o: EditOpts): Promise<void> {
  if ((o.rect === undefined) === (o.mask === undefined)) throw new UsageError('give exactly one of --rect y0,x0,y1,x1 or --mask PNG');
  if (o.outpaint && o.rect === undefined) throw new UsageError('--outpaint goes with --rect (for a mask, paint the kept region black)');
  const rect = o.rect !== undefined ? parseRect(o.rect, !!o.outpaint) : undefined;
  const imgPath = abs(ui.io, image);
  if (!existsSync(imgPath)) throw new UsageError(`no such image: ${imgPath}`);
  const maskPath = o.mask !== undefined ? abs(ui.io, o.mask) : undefined;
  if (maskPath && !existsSync(maskPath)) throw new UsageError(`no such mask: ${maskPath}`);
  const spec = await resolveModel(ui.io, o);
  const { card } = spec;
  const classes = parseClasses(o.class !== undefined ? [o.class] : undefined, card);
  if (classes && classes.length !== 1) throw new UsageError('edit takes one --class');
  const label = classes?.[0] ?? card.var.config.numClasses;
  const seed = intOpt('--seed', o.seed, Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1);
  // unset options: the pipeline applies the model card's sampling
  const cfg = o.cfg !== undefined ? numOpt('--cfg', o.cfg, 0, 0) : undefined;
  const topK = o.topK !== undefined ? intOpt('--top-k', o.topK, 0, 0) : undefined;
  const topP = o.topP !== undefined ? numOpt('--top-p', o.topP, 0, 0, 1) : undefined;
  const out = abs(ui.io, o.out);
  if (extname(out).toLowerCase() !== '.png') throw new UsageError(`--out must be a .png file; got ${out}`);
  const raw = await readImage(imgPath);
  const maskImg = maskPath ? await readImage(maskPath) : undefined;

  const backend = await startBackend(o, ui);
  const gen = await loadGenerator(spec.source, { backend: null });
  const patchNums = gen.models.var.config.patchNums;
  const S = patchNums.length;
  const bar = ui.progress('edit', S);
  let r: Awaited<ReturnType<typeof gen.edit>>;
  try {
    r = await gen.edit({
      image: raw,
      mask: rect ?? keepMaskFrom(maskImg!),
      classes: [label],
      seed,
      ...(cfg !== undefined ? { cfg } : {}),
      ...(topK !== undefined ? { topK } : {}),
      ...(topP !== undefined ? { topP } : {}),
      ...(o.moreSmooth ? { moreSmooth: true } : {}),
      ...(ui.io.signal ? { signal: ui.io.signal } : {}),
      onScale: (ev) => bar.update(ev.si + 1, `scale ${ev.si + 1}/${S} (${ev.pn}×${ev.pn})`),
    });
  } finally {
    bar.stop();
    gen.dispose();
  }
  const after = r.images[0].pixels;
  const before = r.input!.pixels;
  const keepStats = r.kept!;
  const tokenFile = { tokens: r.tokens.map((t) => [Array.from(t)]), keep: r.keep!.map((k) => [Array.from(k)]) };
  await writePng(out, after);
  ui.line(out);
  let strip: string | undefined;
  if (o.strip) {
    strip = abs(ui.io, o.strip);
    // the mask at image size: white = regenerated (from the last scale's keep mask)
    const P = keepStats[keepStats.length - 1].pn;
    const keepLast = tokenFile.keep[tokenFile.keep.length - 1][0];
    const W = after.width;
    const H = after.height;
    const m = new Uint8Array(W * H);
    for (let yy = 0; yy < H; yy++)
      for (let xx = 0; xx < W; xx++) m[yy * W + xx] = keepLast[Math.floor((yy * P) / H) * P + Math.floor((xx * P) / W)] ? 0 : 255;
    const maskRaw: RawImage = { width: W, height: H, channels: 1, data: m };
    const toC = (im: RawImage) => (im.channels === after.channels ? im : convertChannels(im, after.channels));
    await writePng(strip, makeGrid([toC(before), toC(maskRaw), after], { cols: 3, labels: ['before', 'mask', 'after'] }));
    ui.line(strip);
  }
  let tokensOut: string | undefined;
  if (o.tokensOut) {
    tokensOut = abs(ui.io, o.tokensOut);
    const doc = { format: 'var-ts-tokens', patchNums: [...card.var.config.patchNums], ...tokenFile, images: [imgPath], model: spec.label };
    if (extname(tokensOut).toLowerCase() !== '.json') throw new UsageError('--tokens-out must be a .json file');
    await writeFileAtomic(tokensOut, new TextEncoder().encode(`${JSON.stringify(doc)}\n`));
    ui.line(tokensOut);
  }
  ui.result({
    command: 'edit',
    backend: backend.name,
    input: imgPath,
    output: out,
    strip: strip ?? null,
    tokens: tokensOut ?? null,
    class: className(card, label),
    label,
    seed,
    cfg: r.sampling.cfg,
    mode: rect ? (rect.inpainting ? 'inpaint' : 'outpaint') : 'mask',
    keep: keepStats,
  });
  if (!ui.json) ui.io.stderr(`var: edited with seed ${seed} on ${backend.name}\n`);
}
