#!/usr/bin/env node
/**
 * var.ts example — the tokenizer alone.
 *
 * An image goes through VAR's multi-scale VQVAE (@var/tokenizer): it is encoded to a latent
 * f, quantised scale by scale into token maps r1 … rK (1×1 up to the last patch size), and
 * the cumulative latent after each scale, f̂_k = Σ_{i≤k} phi(upsample(embed(r_i))), is
 * decoded back to an image. Each of those reconstructions is written as a PNG, with the
 * tokens and per-scale errors in JSON.
 *
 *   node examples/tokenizer-only/main.mjs [--tokenizer DIR] [--image FILE | --emoji N | --digit N] [--out DIR]
 *
 * DIR is either a model directory (model-card.json + vae.safetensors, as written by
 * @var/models' saveModel) or an official-style directory (config.json with a "VQVAE"
 * section + vae.safetensors or vae.pth, like the fixture cases in ../shared/fixtures).
 * Default: $VAR_FIXTURE_DIR, else the first fixture case in ../shared/fixtures.
 *
 * Packages used: @var/tokenizer, @var/checkpoint (loading), @var/data (image I/O and
 * datasets), @var/core (backend) — no transformer, no sampler.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { loadStateDict } from '@var/checkpoint';
import { initBackend } from '@var/core';
import { imageToTensor, makeGrid, readImage, tensorToImages, writePng } from '@var/data';
import { emojiDataset, mnistDataset } from '@var/datasets';
import { VQVAE, fromOfficialConfig } from '@var/tokenizer';

const here = dirname(fileURLToPath(import.meta.url));

/** The fixture case the tests use: $VAR_FIXTURE_DIR, else the first case in ../shared/fixtures. */
export function defaultFixtureDir() {
  const env = process.env.VAR_FIXTURE_DIR;
  const repo = resolve(here, '..', '..');
  if (env) return resolve(repo, env);
  const root = resolve(repo, '..', 'shared', 'fixtures');
  const cases = existsSync(root)
    ? readdirSync(root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && existsSync(join(root, e.name, 'config.json')))
        .map((e) => e.name)
        .sort()
    : [];
  if (cases.length === 0) throw new Error(`no fixture case found in ${root}: pass --tokenizer DIR or set VAR_FIXTURE_DIR`);
  return join(root, cases[0]);
}

/** JSON.parse that also reads Python's bare NaN / Infinity (as json.dump writes them). */
function parseJson(text) {
  return JSON.parse(text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '$1null'));
}

/** Load a VQVAE from a model directory (model-card.json) or an official-style one (config.json + vae.*). */
export async function loadTokenizer(dir) {
  const card = join(dir, 'model-card.json');
  if (existsSync(card)) {
    const c = JSON.parse(readFileSync(card, 'utf8'));
    const file = join(dir, c.tokenizer.file ?? 'vae.safetensors');
    return { vae: VQVAE.fromStateDict(await loadStateDict(file), c.tokenizer.config), source: file };
  }
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new Error(`${dir}: neither model-card.json nor config.json found`);
  const official = parseJson(readFileSync(cfgPath, 'utf8'));
  if (!official.VQVAE) throw new Error(`${cfgPath}: no "VQVAE" section (the official VQVAE constructor arguments)`);
  const file = ['vae.safetensors', 'vae.pth'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`${dir}: no vae.safetensors or vae.pth`);
  return { vae: VQVAE.fromStateDict(await loadStateDict(file), fromOfficialConfig(official.VQVAE)), source: file };
}

/** The input picture: a file, an emoji of @var/data, or an MNIST digit of @var/data. */
async function inputImage({ image, emoji, digit }, channels) {
  if (image) return { img: await readImage(resolve(image)), what: resolve(image) };
  if (digit !== undefined || (emoji === undefined && channels === 1)) {
    const ds = await mnistDataset();
    const i = Number(digit ?? 0);
    return { img: await ds.get(i), what: `MNIST digit #${i} (a ${ds.labels[i]})` };
  }
  const ds = await emojiDataset();
  const i = Number(emoji ?? 0);
  return { img: await ds.get(i), what: `emoji #${i} (${ds.items[i].name.toLowerCase()})` };
}

const mse = (a, b) => tf.tidy(() => tf.mean(tf.squaredDifference(a, b)).dataSync()[0]);

/**
 * Tokenize one image and write its per-scale reconstructions.
 * @returns the summary also written to `<out>/summary.json`.
 */
export async function run(opts = {}) {
  const out = resolve(opts.out ?? join(here, 'out'));
  const backend = await initBackend(opts.backend ?? 'auto', opts.threads ? { threads: Number(opts.threads) } : {});
  const dir = resolve(opts.tokenizer ?? defaultFixtureDir());
  const { vae, source } = await loadTokenizer(dir);
  const before = tf.memory().numTensors;
  try {
    const channels = vae.config.inChannels;
    const size = vae.imageSize; // last patch size × encoder downsampling
    const patchNums = vae.config.vPatchNums;
    const { img, what } = await inputImage(opts, channels);
    mkdirSync(out, { recursive: true });

    // (1, C, size, size) in [-1, 1], the layout of the official code.
    const x = imageToTensor(img, { channels, size });
    const f = vae.encode(x); // (1, Cvae, h, w) latent before quantisation
    const idx = vae.imgToIdx(x); // per scale (1, pn·pn) int32
    const fHats = vae.idxToFhatPerScale(idx); // cumulative f̂ after scales 0..k
    const recons = vae.reconstructionsPerScale(idx); // decoded f̂_k, (1, C, size, size) each

    const files = [];
    const scales = [];
    const gridCells = [(await tensorToImages(x))[0]];
    await writePng(join(out, 'input.png'), gridCells[0]);
    for (let si = 0; si < patchNums.length; si++) {
      const pn = patchNums[si];
      const [picture] = await tensorToImages(recons[si]);
      const file = `scale-${String(si + 1).padStart(2, '0')}-${pn}x${pn}.png`;
      await writePng(join(out, file), picture);
      files.push(file);
      gridCells.push(picture);
      const fErr = tf.tidy(() => tf.div(tf.norm(tf.sub(f, fHats[si])), tf.norm(f)).dataSync()[0]);
      scales.push({
        si,
        pn,
        tokens: Array.from(idx[si].dataSync()),
        latentRelError: fErr, // ‖f − f̂_k‖ / ‖f‖
        imageMse: mse(x, recons[si]), // vs the input, both in [-1, 1]
        file,
      });
    }
    const grid = makeGrid(gridCells, { cols: gridCells.length, padding: 2, labels: ['input', ...patchNums.map((p) => `${p}x${p}`)] });
    await writePng(join(out, 'grid.png'), grid);
    tf.dispose([x, f, ...idx, ...fHats, ...recons]);

    const summary = {
      tokenizer: source,
      backend: backend.name,
      input: what,
      imageSize: size,
      channels,
      vocabSize: vae.config.vocabSize,
      patchNums,
      out,
      input_png: 'input.png',
      grid_png: 'grid.png',
      scales,
    };
    writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    if (tf.memory().numTensors !== before) throw new Error(`tensor leak: ${tf.memory().numTensors - before} tensors left`);
    return summary;
  } finally {
    vae.dispose();
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      tokenizer: { type: 'string' },
      image: { type: 'string' },
      emoji: { type: 'string' },
      digit: { type: 'string' },
      out: { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      readFileSync(fileURLToPath(import.meta.url), 'utf8')
        .split('*/')[0]
        .replace(/^#!.*\n\/\*\*\n/, '')
        .replace(/^ \* ?/gm, ''),
    );
    return;
  }
  const s = await run(values);
  console.log(
    `tokenizer: ${s.tokenizer} (${s.imageSize}×${s.imageSize}, ${s.channels} channel(s), vocabulary ${s.vocabSize}) on ${s.backend}`,
  );
  console.log(`input: ${s.input}`);
  for (const sc of s.scales) {
    console.log(
      `scale ${sc.si + 1}/${s.scales.length} (${sc.pn}×${sc.pn} tokens): latent error ${sc.latentRelError.toFixed(4)}, image MSE ${sc.imageMse.toFixed(4)} → ${sc.file}`,
    );
  }
  console.log(`wrote ${s.scales.length + 2} PNGs, tokens and errors to ${s.out} (summary.json, grid.png)`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
    process.exit(1);
  });
}
