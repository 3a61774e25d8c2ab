#!/usr/bin/env node
/**
 * var.ts example — a sampling loop of your own, on the transformer's per-scale step API.
 *
 * `@var/sampling`'s `generate` ramps classifier-free guidance linearly over the scales
 * (t = cfg · si/(S−1), as the official code). This example writes the loop itself, scale
 * by scale, with the public pieces — `VAR.startInference(labels).step(si, x)` (KV-cached
 * logits of one scale, @var/transformer), `sampleTokens` (top-k/top-p + one seeded draw
 * per token, @var/sampling), `quantizer.embed` and `quantizer.nextAutoregressiveInput`
 * (f̂ += phi(upsample(h)) and the next scale's input, @var/tokenizer) — so the guidance can
 * follow any schedule:
 *
 *   official  t = cfg · si/(S−1)          (what generate does: same seed → same tokens)
 *   constant  t = cfg at every scale
 *   late      t = cfg · (si/(S−1))²       (guidance mostly on the fine scales)
 *   early     t = cfg · (1 − si/(S−1))    (guidance on the coarse layout only)
 *
 *   node examples/custom-sampling/main.mjs [--model ID|DIR|fixture | --fixture DIR] [--schedule NAME,…]
 *        [--labels 0,1,…] [--cfg 4] [--seed 0] [--top-k 0] [--top-p 0] [--out DIR]
 *
 * Model: `--model mnist` (the shipped model, the default when it is bundled) or a model
 * directory written by @var/models' saveModel; `--fixture DIR` uses a fixture case
 * (config.json, vae.safetensors, var.safetensors: random weights, for tests) and
 * `--model fixture` the default case ($VAR_FIXTURE_DIR, else the first in ../shared/fixtures).
 * Writes `<out>/<schedule>.png` (one image per label), `<out>/schedules.png` (one row per
 * schedule) and `<out>/summary.json` (tokens of every scale, guidance per scale).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import { Rng, ValueError, initBackend } from '@var/core';
import { makeGrid, tensorToImages, writePng } from '@var/data';
import { disposeModel, listModels, loadModel } from '@var/models';
import { sampleTokens } from '@var/sampling';

const here = dirname(fileURLToPath(import.meta.url));

/** Guidance schedules: t(si) for scale si of S, given the strength cfg. */
export const SCHEDULES = Object.freeze({
  official: (cfg, si, S) => (S > 1 ? cfg * (si / (S - 1)) : 0),
  constant: (cfg) => cfg,
  late: (cfg, si, S) => (S > 1 ? cfg * (si / (S - 1)) ** 2 : 0),
  early: (cfg, si, S) => (S > 1 ? cfg * (1 - si / (S - 1)) : cfg),
});

/**
 * Class-conditional sampling with a guidance schedule, written against the per-scale API.
 *
 * @param vae a VQVAE (@var/tokenizer)
 * @param model a VAR (@var/transformer)
 * @param opts.labels class per image; opts.cfg strength; opts.schedule name or (cfg, si, S) => t;
 *   opts.seed; opts.topK / opts.topP (0 = off); opts.decode (default true)
 * @returns tokens per scale ((B·pn²) Int32Array each), guidance t per scale, and the images
 *   (B, C, H, W) in [-1, 1] (the caller disposes them) unless decode is false
 */
export async function sampleWithSchedule(vae, model, opts) {
  const { numClasses, patchNums, vocabSize: V, Cvae } = model.config;
  const labels = Int32Array.from(opts.labels);
  const B = labels.length;
  const S = patchNums.length;
  const cfg = opts.cfg ?? 1.5;
  const schedule = typeof opts.schedule === 'function' ? opts.schedule : SCHEDULES[opts.schedule ?? 'official'];
  if (!schedule) throw new ValueError(`unknown schedule ${JSON.stringify(opts.schedule)}; known: ${Object.keys(SCHEDULES).join(', ')}`);
  const rng = new Rng(opts.seed ?? 0);
  const q = vae.quantizer;

  // One batch of 2B: the labels (conditional half), then the unconditional class numClasses.
  const session = model.startInference(Int32Array.from([...labels, ...new Array(B).fill(numClasses)]));
  let fHat = null; // (B, Cvae, h, w), the sum of the scales so far
  let x = null; // (2B, pn², Cvae): the next scale's input, null at scale 0
  const tokens = [];
  const guidance = [];
  try {
    for (let si = 0; si < S; si++) {
      const pn = patchNums[si];
      const l = pn * pn;
      const t = schedule(cfg, si, S);
      guidance.push(t);
      const out = session.step(si, x); // (2B, l, V) logits of this scale, KV cache updated
      if (x) x.dispose();
      x = null;
      const guided = tf.tidy(() => {
        const cond = tf.slice(out, [0, 0, 0], [B, l, V]);
        const uncond = tf.slice(out, [B, 0, 0], [B, l, V]);
        return tf.sub(tf.mul(cond, 1 + t), tf.mul(uncond, t)); // (1+t)·cond − t·uncond
      });
      out.dispose();
      const logits = await guided.data();
      guided.dispose();
      const sampled = sampleTokens(logits, V, rng, { topK: opts.topK ?? 0, topP: opts.topP ?? 0 }).tokens; // (B·l)
      tokens.push(sampled);

      const idx = tf.tensor2d(sampled, [B, l], 'int32');
      const h = q.embed(idx, pn); // (B, Cvae, pn, pn) codebook vectors
      idx.dispose();
      const res = q.nextAutoregressiveInput(si, fHat, h); // f̂ += phi(upsample(h)); next = area-downsample(f̂)
      h.dispose();
      if (fHat && fHat !== res.fHat) fHat.dispose();
      fHat = res.fHat;
      if (res.next) {
        const next = res.next;
        x = tf.tidy(() => {
          const n = tf.transpose(tf.reshape(next, [B, Cvae, -1]), [0, 2, 1]); // (B, pn'², Cvae), row-major
          return tf.concat([n, n], 0); // the same input for both halves
        });
        next.dispose();
      }
    }
    const images = opts.decode === false ? null : vae.fhatToImg(fHat); // (B, C, H, W) in [-1, 1]
    return { tokens, guidance, images, labels };
  } finally {
    session.dispose();
    if (x) x.dispose();
    if (fHat) fHat.dispose();
  }
}

/** JSON.parse that also reads Python's bare NaN / Infinity (as json.dump writes them). */
function parseJson(text) {
  return JSON.parse(text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '$1null'));
}

/** $VAR_FIXTURE_DIR, else the first fixture case in ../shared/fixtures. */
export function defaultFixtureDir() {
  const repo = resolve(here, '..', '..');
  if (process.env.VAR_FIXTURE_DIR) return resolve(repo, process.env.VAR_FIXTURE_DIR);
  const root = resolve(repo, '..', 'shared', 'fixtures');
  const cases = existsSync(root)
    ? readdirSync(root, { withFileTypes: true })
        .filter((e) => e.isDirectory() && existsSync(join(root, e.name, 'config.json')))
        .map((e) => e.name)
        .sort()
    : [];
  if (cases.length === 0) throw new Error(`no fixture case found in ${root}: pass --model or set VAR_FIXTURE_DIR`);
  return join(root, cases[0]);
}

/** `--model ID|DIR` through @var/models, or a fixture case (official config.json + safetensors). */
export async function loadExampleModel({ model, fixture }) {
  if (fixture !== undefined) {
    const dir = resolve(fixture === true ? defaultFixtureDir() : fixture);
    const config = parseJson(readFileSync(join(dir, 'config.json'), 'utf8'));
    return loadModel({ vae: join(dir, 'vae.safetensors'), var: join(dir, 'var.safetensors'), config });
  }
  if (model === 'fixture') return loadExampleModel({ fixture: true });
  if (model === undefined) {
    const mnist = (await listModels()).find((m) => m.id === 'mnist');
    if (!mnist?.bundled) {
      console.warn('the shipped MNIST model is not bundled in this checkout: using the fixture case (random weights)');
      return loadExampleModel({ fixture: true });
    }
    model = 'mnist';
  }
  return loadModel(existsSync(model) ? resolve(model) : model);
}

const list = (s) =>
  String(s)
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);

export async function run(opts = {}) {
  const out = resolve(opts.out ?? join(here, 'out'));
  const backend = await initBackend(opts.backend ?? 'auto', opts.threads ? { threads: Number(opts.threads) } : {});
  const m = await loadExampleModel(opts);
  const before = tf.memory().numTensors;
  try {
    const { numClasses } = m.var.config;
    const labels = opts.labels ? list(opts.labels).map(Number) : Array.from({ length: Math.min(numClasses, 10) }, (_, i) => i);
    const names = list(opts.schedule ?? Object.keys(SCHEDULES).join(','));
    const cfg = Number(opts.cfg ?? m.card.sampling?.cfg ?? 4);
    const seed = Number(opts.seed ?? 0);
    const topK = Number(opts['top-k'] ?? opts.topK ?? 0);
    const topP = Number(opts['top-p'] ?? opts.topP ?? 0);
    mkdirSync(out, { recursive: true });
    const rows = [];
    const results = {};
    for (const name of names) {
      const t0 = performance.now();
      const r = await sampleWithSchedule(m.vae, m.var, { labels, cfg, schedule: name, seed, topK, topP });
      const pictures = await tensorToImages(r.images);
      r.images.dispose();
      await writePng(
        join(out, `${name}.png`),
        makeGrid(pictures, { cols: pictures.length, padding: 2, labels: labels.map((l) => m.card.classNames[l] ?? String(l)) }),
      );
      rows.push(...pictures);
      results[name] = {
        guidance: r.guidance,
        tokens: r.tokens.map((t) => Array.from(t)),
        file: `${name}.png`,
        seconds: (performance.now() - t0) / 1000,
      };
    }
    await writePng(join(out, 'schedules.png'), makeGrid(rows, { cols: labels.length, padding: 2 }));
    const summary = {
      model: m.source,
      backend: backend.name,
      labels,
      cfg,
      seed,
      topK,
      topP,
      patchNums: m.var.config.patchNums,
      out,
      schedules: results,
    };
    writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary)}\n`);
    if (tf.memory().numTensors !== before) throw new Error(`tensor leak: ${tf.memory().numTensors - before} tensors left`);
    return summary;
  } finally {
    disposeModel(m);
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      fixture: { type: 'string' },
      schedule: { type: 'string' },
      labels: { type: 'string' },
      cfg: { type: 'string' },
      seed: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
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
  console.log(`model: ${s.model} on ${s.backend}; labels ${s.labels.join(',')}, cfg ${s.cfg}, seed ${s.seed}`);
  for (const [name, r] of Object.entries(s.schedules)) {
    console.log(
      `${name.padEnd(8)} guidance per scale ${r.guidance.map((t) => t.toFixed(2)).join(' ')} → ${r.file} (${r.seconds.toFixed(2)} s)`,
    );
  }
  console.log(`wrote ${join(s.out, 'schedules.png')} and summary.json`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((e) => {
    console.error(e instanceof Error ? `${e.name}: ${e.message}` : e);
    process.exit(1);
  });
}
