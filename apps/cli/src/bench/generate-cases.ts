/**
 * The child-process side of `var bench --generate`: one case on one backend, in a fresh
 * process (so the wasm thread count and the peak RSS belong to this case alone).
 *
 * Steps: initialise the backend; measure the practical peak (an n×n by n×n matMul, best of a
 * few after a warm-up); build the models; optionally one warm-up generation; one timed
 * end-to-end class-conditional generation (one image, CFG on) with the sampler's `onPhase`
 * hook; count the tensors alive before and after it.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend, probeWebGPU, type BackendInfo } from '@var/core';
import { disposeModel, loadModel } from '@var/models';
import { generate, type PhaseTiming } from '@var/sampling';
import { VQVAE, fromOfficialConfig as vqvaeFromOfficial } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varFromOfficial, loadVAR, midBenchConfigs, varPreset } from '@var/transformer';
import { decodeFlops, matMulFlops, transformerFlops } from './flops.js';
import type { CaseName, CaseResult, ChildSpec, LoadResult, LoadSpec, ProbeResult } from './generate-report.js';

/** Sampling settings of every case: the official demo's (cfg 4, top-k 900, top-p 0.95), one image. */
export const SAMPLING = Object.freeze({ cfg: 4, topK: 900, topP: 0.95, seed: 0, count: 1 });

interface Built {
  vae: VQVAE;
  model: VAR;
  weights: string;
}

async function buildModels(name: CaseName, fixtureDir: string | undefined): Promise<Built> {
  if (name === 'tiny') {
    if (!fixtureDir) throw new Error('the tiny case needs the fixture case directory');
    const cfg = JSON.parse(readFileSync(join(fixtureDir, 'config.json'), 'utf8'));
    const vae = await VQVAE.load(join(fixtureDir, 'vae.safetensors'), vqvaeFromOfficial(cfg.VQVAE));
    const model = await loadVAR(join(fixtureDir, 'var.safetensors'), varFromOfficial(cfg.VAR, cfg.VQVAE));
    return { vae, model, weights: `fixture weights (${fixtureDir})` };
  }
  if (name === 'mid') {
    const c = midBenchConfigs();
    return { vae: VQVAE.create(c.vae, { seed: 0 }), model: VAR.create(c.var, { seed: 0 }), weights: 'random (official init, seed 0)' };
  }
  const vae = VQVAE.create('vae_ch160v4096z32', { seed: 0 });
  const model = VAR.create(varPreset(name), { seed: 0 }); // d16, d20 (on wasm: d20's packed weights do not fit too, see @var/core's wasm-packing)
  return { vae, model, weights: 'random (official init, seed 0)' };
}

/** Best GFLOP/s of an n×n by n×n float32 matMul: one warm-up, then repeats until ~1 s or 5 runs (at least 1). */
async function peakMatMul(n: number): Promise<{ gflops: number; ms: number; runs: number }> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  try {
    const once = async (): Promise<number> => {
      const t0 = performance.now();
      const c = tf.matMul(a, b);
      await c.data();
      const ms = performance.now() - t0;
      c.dispose();
      return ms;
    };
    await once();
    let best = Infinity;
    let spent = 0;
    let runs = 0;
    while (runs < 1 || (runs < 5 && spent < 1000)) {
      const ms = await once();
      best = Math.min(best, ms);
      spent += ms;
      runs++;
    }
    return { gflops: matMulFlops(n) / best / 1e6, ms: best, runs };
  } finally {
    tf.dispose([a, b]);
  }
}

interface RunTimes {
  totalMs: number;
  phases: PhaseTiming[];
  leaked: number;
  tensorsBefore: number;
  imageShape: number[];
  imageFinite: boolean;
}

async function timedGeneration(vae: VQVAE, model: VAR, label: number): Promise<RunTimes> {
  const tensorsBefore = tf.memory().numTensors;
  const phases: PhaseTiming[] = [];
  const t0 = performance.now();
  const r = await generate(vae, model, { ...SAMPLING, labels: label, onPhase: (p) => phases.push(p) });
  const pixels = (await r.images!.data()) as Float32Array;
  const totalMs = performance.now() - t0;
  let imageFinite = true;
  for (let i = 0; i < pixels.length; i++) if (!Number.isFinite(pixels[i])) imageFinite = false;
  const imageShape = r.images!.shape;
  tf.dispose([r.images!, r.fHat]);
  return { totalMs, phases, leaked: tf.memory().numTensors - tensorsBefore, tensorsBefore, imageShape, imageFinite };
}

/** Run one case (in this process) and return its measurements. */
export async function runCase(spec: ChildSpec): Promise<CaseResult> {
  const t0 = performance.now();
  let info: BackendInfo;
  if (spec.backend === 'webgpu') {
    info = await initBackend('webgpu', { allowSoftwareAdapter: spec.allowSoftwareWebgpu ?? false });
  } else {
    info = await initBackend(spec.backend, spec.backend === 'wasm' ? { threads: spec.threads ?? 1 } : {});
  }
  const peak = await peakMatMul(spec.peakSize);
  const tBuild = performance.now();
  const { vae, model, weights } = await buildModels(spec.case, spec.fixtureDir);
  const buildMs = performance.now() - tBuild;
  try {
    const varCfg = model.config;
    const vaeCfg = vae.config;
    const label = Math.min(1, varCfg.numClasses - 1);
    for (let i = 0; i < spec.warmup; i++) await timedGeneration(vae, model, label);
    const run = await timedGeneration(vae, model, label);
    const S = varCfg.patchNums.length;
    const tr = Array.from({ length: S }, (_, si) => run.phases.find((p) => p.phase === 'transformer' && p.si === si)?.ms ?? NaN);
    const sa = Array.from({ length: S }, (_, si) => run.phases.find((p) => p.phase === 'sampling' && p.si === si)?.ms ?? NaN);
    const decodeMs = run.phases.find((p) => p.phase === 'decode')?.ms ?? NaN;
    const B = SAMPLING.count;
    const tflops = transformerFlops(varCfg, 2 * B); // CFG: conditional + unconditional sequences
    const dflops = decodeFlops(vaeCfg, B);
    const transformerMs = tr.reduce((a, b) => a + b, 0);
    const samplingMs = sa.reduce((a, b) => a + b, 0);
    return {
      case: spec.case,
      backend: info.name,
      threads: info.threads ?? null,
      backendDetail: [info.wasmBinary, info.adapterInfo?.description || info.adapterInfo?.device].filter(Boolean).join(', ') || null,
      tfjsVersion: tf.version_core,
      node: process.version,
      config: {
        imageSize: vae.imageSize,
        patchNums: [...varCfg.patchNums],
        depth: varCfg.depth,
        embedDim: varCfg.embedDim,
        numHeads: varCfg.numHeads,
        vocabSize: varCfg.vocabSize,
        Cvae: varCfg.Cvae,
        vaeCh: vaeCfg.ch,
        varParams: model.numParameters(),
        vaeParams: vae.numParameters(),
        weights,
      },
      sampling: { ...SAMPLING, label },
      warmupRuns: spec.warmup,
      buildMs,
      totalMs: run.totalMs,
      transformerMs,
      samplingMs,
      decodeMs,
      otherMs: run.totalMs - transformerMs - samplingMs - decodeMs,
      scaleMs: tr.map((t, si) => t + sa[si]),
      transformerScaleMs: tr,
      samplingScaleMs: sa,
      transformerGflop: tflops.total / 1e9,
      decodeGflop: dflops / 1e9,
      transformerGflops: tflops.total / transformerMs / 1e6,
      decodeGflops: dflops / decodeMs / 1e6,
      peakSize: spec.peakSize,
      peakGflops: peak.gflops,
      maxRssMB: process.resourceUsage().maxRSS / 1024,
      tensorsBefore: run.tensorsBefore,
      leakedTensors: run.leaked,
      imageShape: run.imageShape,
      imageFinite: run.imageFinite,
      childMs: performance.now() - t0,
    };
  } finally {
    vae.dispose();
    model.dispose();
  }
}

/** Whether a WebGPU adapter exists here and whether it is a real (non-software) one. */
export async function probe(): Promise<ProbeResult> {
  const p = await probeWebGPU();
  return {
    available: !!p.adapter,
    software: p.summary?.isSoftware ?? null,
    adapter: p.summary ? p.summary.description || `${p.summary.vendor} ${p.summary.architecture} ${p.summary.device}`.trim() : null,
    reason: p.reason,
  };
}

/**
 * Loads in this process: initialise the backend (not timed), then `spec.runs` times `loadModel`
 * from the two checkpoint files until both models are built (ready to generate), with byte
 * progress, disposing the previous models first; the best run and every run's time.
 */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const info = await initBackend(spec.backend, spec.backend === 'wasm' ? { threads: spec.threads ?? 1 } : {});
  const tensorsBefore = tf.memory().numTensors;
  const bytesBefore = tf.memory().numBytes;
  const baselineRssMB = process.memoryUsage().rss / 2 ** 20;
  const config = spec.config.endsWith('.json') ? JSON.parse(readFileSync(spec.config, 'utf8')) : spec.config;
  const last = new Map<string, { loaded: number; total: number }>();
  let events = 0;
  const runsMs: number[] = [];
  const runs = Math.max(1, spec.runs ?? 1);
  let m: Awaited<ReturnType<typeof loadModel>> | null = null;
  for (let i = 0; i < runs; i++) {
    if (m) disposeModel(m); // the next load may reuse the memory, as torch.load's later runs do
    last.clear();
    events = 0;
    const t0 = performance.now();
    m = await loadModel(
      { vae: spec.vae, var: spec.var, config },
      {
        onProgress: (p) => {
          if (p.file && p.loaded !== undefined) {
            events++;
            last.set(p.file, { loaded: p.loaded, total: p.total ?? 0 });
          }
        },
      },
    );
    runsMs.push(performance.now() - t0);
  }
  const readyMs = Math.min(...runsMs);
  if (!m) throw new Error('no load ran');
  const backendBytes = tf.memory().numBytes - bytesBefore;
  const params = m.vae.numParameters() + m.var.numParameters();
  disposeModel(m);
  return {
    model: spec.model,
    format: spec.format,
    backend: info.name,
    threads: info.threads ?? null,
    files: [spec.vae, spec.var],
    fileBytes: [spec.vae, spec.var].map((f) => statSync(f).size),
    readyMs,
    runsMs,
    progressEvents: events,
    progressBytes: [spec.vae, spec.var].map((f) => last.get(f)?.loaded ?? 0),
    backendBytes,
    params,
    baselineRssMB,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    leakedTensors: tf.memory().numTensors - tensorsBefore,
  };
}
