/**
 * `var bench --generate`: the plan (which case runs on which backend), the data each child
 * process sends back, the machine description and the Markdown report (`docs/benchmarks.md`
 * is written from here, never by hand).
 */
import type { TorchAnchorResult, TorchLoadResult } from './torch-side.js';
import { cpus, freemem, loadavg, totalmem, availableParallelism, platform, arch, release } from 'node:os';

/** The line prefixes a child process reports with (see bench-child.ts). */
export const RESULT_PREFIX = '@@var-bench ';
export const ERROR_PREFIX = '@@var-bench-error ';

export const CASE_NAMES = ['tiny', 'mid', 'd16', 'd20'] as const;
export type CaseName = (typeof CASE_NAMES)[number];
export const BENCH_BACKENDS = ['cpu', 'wasm', 'webgpu'] as const;
export type BenchBackend = (typeof BENCH_BACKENDS)[number];

/** What a child process is asked to run. */
export interface ChildSpec {
  case: CaseName;
  backend: BenchBackend;
  /** wasm only. */
  threads?: number;
  /** Side of the square matMul measuring the practical peak. */
  peakSize: number;
  /** Untimed generations before the timed one. */
  warmup: number;
  /** The fixture case directory (the tiny case's config.json and weights). */
  fixtureDir?: string;
  /** webgpu: run on a software adapter anyway (tests). */
  allowSoftwareWebgpu?: boolean;
}

/** A load child: `loadModel` from two checkpoint files until ready to generate. */
export interface LoadSpec {
  kind: 'load';
  /** What is loaded (e.g. d16, tiny). */
  model: string;
  format: 'pth' | 'safetensors';
  backend: 'wasm' | 'cpu';
  threads?: number;
  vae: string;
  var: string;
  /** A preset name (d16 …) or the path of a config .json (an official config.json, a model card). */
  config: string;
  /** Loads in this process, each after disposing the previous (default 1), as the torch.load child does. */
  runs?: number;
}

/** What a load child sends back. */
export interface LoadResult {
  model: string;
  format: 'pth' | 'safetensors';
  backend: string;
  threads: number | null;
  files: string[];
  fileBytes: number[];
  /** loadModel from call to return: both models built, weights in backend memory; the best of the runs. */
  readyMs: number;
  /** Every run's time (ms); the first in a fresh process pays the first touch of the memory the weights take. */
  runsMs?: number[];
  progressEvents: number;
  /** The last `loaded` byte count reported for each file. */
  progressBytes: number[];
  /** tf.memory().numBytes held by the loaded models. */
  backendBytes: number;
  params: number;
  /** RSS after the backend started, before loading (MiB). */
  baselineRssMB: number;
  maxRssMB: number;
  leakedTensors: number;
}

/** The PyTorch generation of one case (torch_anchor.py), or why it did not run. */
export type TorchRow =
  | { status: 'ok'; case: CaseName; result: TorchAnchorResult }
  | { status: 'skipped' | 'failed'; case: CaseName; reason: string };

/** One model's loading: var.ts per format, torch.load of the .pth files. */
export interface LoadRow {
  model: string;
  torch: { status: 'ok'; result: TorchLoadResult } | { status: 'skipped' | 'failed'; reason: string };
  rows: ({ status: 'ok'; result: LoadResult } | { status: 'skipped' | 'failed'; format: 'pth' | 'safetensors'; reason: string })[];
}

/** What a child process sends back for one case. */
export interface CaseResult {
  case: CaseName;
  backend: string;
  threads: number | null;
  backendDetail: string | null;
  tfjsVersion: string;
  node: string;
  config: {
    imageSize: number;
    patchNums: number[];
    depth: number;
    embedDim: number;
    numHeads: number;
    vocabSize: number;
    Cvae: number;
    vaeCh: number;
    varParams: number;
    vaeParams: number;
    weights: string;
  };
  sampling: { cfg: number; topK: number; topP: number; seed: number; count: number; label: number };
  warmupRuns: number;
  /** Building / loading the models (not part of the generation). */
  buildMs: number;
  /** The whole `generate` call, until the image's pixels are read. */
  totalMs: number;
  transformerMs: number;
  samplingMs: number;
  decodeMs: number;
  /** total − (transformer + sampling + decode): the event-loop yields between scales. */
  otherMs: number;
  /** transformer + sampling of each scale. */
  scaleMs: number[];
  transformerScaleMs: number[];
  samplingScaleMs: number[];
  transformerGflop: number;
  decodeGflop: number;
  transformerGflops: number;
  decodeGflops: number;
  peakSize: number;
  peakGflops: number;
  /** process.resourceUsage().maxRSS of the child, MiB. */
  maxRssMB: number;
  tensorsBefore: number;
  /** tf.memory().numTensors after the generation (results disposed) minus before. */
  leakedTensors: number;
  imageShape: number[];
  imageFinite: boolean;
  childMs: number;
}

export interface ProbeResult {
  available: boolean;
  software: boolean | null;
  adapter: string | null;
  reason: string;
}

/** One row of the report: a measured case, or a case that did not run (and why). */
export type ReportRow =
  | { status: 'ok'; case: CaseName; backend: BenchBackend; threads: number | null; result: CaseResult }
  | { status: 'skipped' | 'failed'; case: CaseName; backend: BenchBackend; threads: number | null; reason: string };

export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  freeMemoryGiB: number;
  os: string;
  node: string;
  loadAverageStart: number[];
  loadAverageEnd?: number[];
}

export interface GenerateBenchReport {
  command: 'bench --generate';
  date: string;
  machine: MachineInfo;
  tfjsVersion: string | null;
  args: string;
  webgpu: ProbeResult | null;
  rows: ReportRow[];
  /** The PyTorch side: where it ran from, or why it was skipped. */
  torch?: {
    python: string | null;
    torch: string | null;
    anchor: string | null;
    skipped: string | null;
    blas?: { library: string | null; reference: boolean; peakGflops: number; n: number } | null;
  };
  torchRows?: TorchRow[];
  load?: LoadRow[];
  /** Why the loading comparison did not run for a model (e.g. no d16 checkpoint directory). */
  loadSkipped?: string[];
  seconds: number;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model?.trim() || 'unknown',
    cores: typeof availableParallelism === 'function' ? availableParallelism() : c.length,
    memoryGiB: totalmem() / 2 ** 30,
    freeMemoryGiB: freemem() / 2 ** 30,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    loadAverageStart: loadavg(),
  };
}

/** The child specs for the cases × backends × threads asked for (webgpu gets its own decision). */
export function planRuns(
  cases: CaseName[],
  backends: BenchBackend[],
  threads: number[],
): { case: CaseName; backend: BenchBackend; threads: number | null }[] {
  const out: { case: CaseName; backend: BenchBackend; threads: number | null }[] = [];
  for (const c of cases) {
    for (const b of backends) {
      if (b === 'cpu' && c !== 'tiny') continue; // ~1 GFLOP/s: minutes to hours for mid / d16
      if (b === 'wasm') for (const t of threads) out.push({ case: c, backend: b, threads: t });
      else out.push({ case: c, backend: b, threads: null });
    }
  }
  return out;
}

/** Untimed generations before the timed one: one for the small cases, none for d16 / d20 (minutes per run). */
export function defaultWarmup(c: CaseName): number {
  return c === 'd16' || c === 'd20' ? 0 : 1;
}

const f = (v: number, d = 1) => (Number.isFinite(v) ? v.toFixed(d) : String(v));
const s = (ms: number) => f(ms / 1000, ms < 10_000 ? 3 : 1);
const gf = (v: number) => f(v, v < 10 ? 2 : 1);
const thr = (r: { backend: string; threads: number | null }) => r.threads ?? (r.backend === 'wasm' ? '?' : '—');

/** The columns of the main table (the quick test checks every one is present). */
export const MAIN_COLUMNS = [
  'case',
  'backend',
  'threads',
  'total s',
  'transformer s',
  'sampling s',
  'decode s',
  'transformer GFLOP/s',
  'decode GFLOP/s',
  'matMul peak GFLOP/s',
  'transformer % of peak',
  'decode % of peak',
  'peak RSS MiB',
  'leaked tensors',
] as const;

function describeCase(r: CaseResult): string {
  const c = r.config;
  return (
    `**${r.case}**: ${c.imageSize} px, ${c.patchNums.length} scales (${c.patchNums.join(',')}); VAR depth ${c.depth}, width ${c.embedDim}, ` +
    `${c.numHeads} heads, V ${c.vocabSize}, Cvae ${c.Cvae} (${(c.varParams / 1e6).toFixed(2)} M params); VQVAE ch ${c.vaeCh} ` +
    `(${(c.vaeParams / 1e6).toFixed(2)} M params); ${c.weights}. FLOPs per image: transformer ${gf(r.transformerGflop)} GFLOP ` +
    `(CFG: 2 sequences), decode ${gf(r.decodeGflop)} GFLOP. ${r.warmupRuns ? `Timed run after ${r.warmupRuns} warm-up generation${r.warmupRuns > 1 ? 's' : ''}` : 'One cold run (no warm-up)'}.`
  );
}

/** The targets of issue [11] against the official PyTorch code on 2 threads (var.ts / PyTorch). */
export const TORCH_TARGETS = Object.freeze({
  d16: { total: 1.5, rss: 1.0 },
  mid: { total: 1.2 },
  /** Loading: var.ts ready to generate / torch.load of the same files. */
  load: 0.5,
});

/** The columns of the side-by-side table (the quick test checks every one is present). */
export const TORCH_COLUMNS = [
  'case',
  'backend',
  'threads',
  'var.ts total s',
  'PyTorch total s',
  'total ratio',
  'var.ts decode s',
  'PyTorch decode s',
  'decode ratio',
  'var.ts peak RSS MiB',
  'PyTorch peak RSS MiB',
  'RSS ratio',
  'targets',
] as const;

/** The columns of the loading table. */
export const LOAD_COLUMNS = [
  'model',
  'format',
  'backend',
  'threads',
  'file MB',
  'var.ts ready s',
  'torch.load s',
  'ratio',
  'target',
  'first load: var.ts / torch s',
  'first ratio',
  'var.ts peak RSS MiB',
  'torch.load peak RSS MiB',
  'RSS ratio',
  'progress events',
] as const;

/** "≤ 1.5×: met" / "≤ 1.5×: missed by 0.32×". */
export function ratioVerdict(what: string, ratio: number, goal: number): string {
  if (!Number.isFinite(ratio)) return `${what} ≤ ${goal}×: not measured`;
  return ratio <= goal ? `${what} ≤ ${goal}×: met` : `${what} ≤ ${goal}×: missed by ${(ratio - goal).toFixed(2)}×`;
}

/** The issue's targets of one var.ts row against PyTorch (they compare 2 threads, as PyTorch runs). */
export function torchTargets(r: CaseResult, t: TorchAnchorResult): string {
  const total = r.totalMs / 1000 / t.median_total_s;
  const rss = r.maxRssMB / t.peak_rss_mib;
  const goals: string[] = [];
  if (r.case === 'd16') goals.push(ratioVerdict('total', total, TORCH_TARGETS.d16.total), ratioVerdict('RSS', rss, TORCH_TARGETS.d16.rss));
  if (r.case === 'mid') goals.push(ratioVerdict('total', total, TORCH_TARGETS.mid.total));
  if (!goals.length) return '—';
  return r.threads === 2 ? goals.join('; ') : `(targets compare 2 threads) ${goals.join('; ')}`;
}

const ratio = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '—');
const esc = (t: string) => t.replace(/\|/g, '\\|').replace(/\s+/g, ' ');

function renderTorch(rep: GenerateBenchReport, L: string[]): void {
  if (!rep.torch) return;
  L.push('## Side by side with PyTorch (the official code, this machine, this command)');
  L.push('');
  if (rep.torch.skipped) {
    L.push(`PyTorch side skipped: ${rep.torch.skipped}.`);
    L.push('');
  } else {
    L.push(
      `\`${rep.torch.anchor}\` (torch ${rep.torch.torch}, ${rep.torch.python}, 2 threads, float32) ran right after each case's var.ts rows: the official`,
    );
    L.push('`autoregressive_infer_cfg` (CFG on, top-k 900, top-p 0.95, random weights), median of its runs after a warm-up, and the');
    L.push('decode (`fhat_to_img`) alone. Ratios are var.ts / PyTorch (below 1: var.ts is faster or smaller). PyTorch uses B=1 except');
    L.push('tiny (B=2), so tiny is not like for like; var.ts d16 is one cold run, PyTorch warm. Targets of issue [11] at 2 threads:');
    L.push(`d16 total ≤ ${TORCH_TARGETS.d16.total}×, peak RSS ≤ ${TORCH_TARGETS.d16.rss}×; mid total ≤ ${TORCH_TARGETS.mid.total}×.`);
    L.push('');
    const b = rep.torch.blas;
    if (b) {
      L.push(
        `PyTorch's BLAS: \`${b.library ?? 'none found'}\`; its ${b.n}×${b.n}×${b.n} float32 matMul on 2 threads: ${b.peakGflops.toFixed(1)} GFLOP/s (the var.ts`,
      );
      L.push("rows give wasm's matMul peak of the same size beside theirs).");
      if (b.reference)
        L.push(
          "**Warning: this is netlib's reference BLAS: every PyTorch figure below is many times slower than PyTorch with OpenBLAS (`apt-get install libopenblas0-pthread`).**",
        );
      L.push('');
    }
  }
  const rows = rep.torchRows ?? [];
  for (const t of rows) {
    if (t.status !== 'ok') L.push(`- ${t.case}: PyTorch ${t.status}: ${esc(t.reason)}`);
    else
      L.push(
        `- ${t.case}: PyTorch ${t.result.runs} runs, median ${t.result.median_total_s.toFixed(3)} s (min ${t.result.min_total_s.toFixed(3)}), decode ${t.result.median_decode_s.toFixed(3)} s, peak RSS ${t.result.peak_rss_mib.toFixed(0)} MiB, ${(t.result.params_var / 1e6).toFixed(2)} M + ${(t.result.params_vae / 1e6).toFixed(2)} M params`,
      );
  }
  if (rows.length) L.push('');
  const okRows = rep.rows.filter((r): r is Extract<ReportRow, { status: 'ok' }> => r.status === 'ok');
  const pairs = okRows.flatMap((r) => {
    const t = rows.find((x) => x.case === r.case);
    return t && t.status === 'ok' ? [{ r: r.result, t: t.result }] : [];
  });
  if (!pairs.length) return;
  L.push(`| ${TORCH_COLUMNS.join(' | ')} |`);
  L.push(`|${TORCH_COLUMNS.map((_, i) => (i < 3 || i === TORCH_COLUMNS.length - 1 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const { r, t } of pairs) {
    L.push(
      `| ${[
        r.case,
        r.backend,
        String(thr(r)),
        s(r.totalMs),
        f(t.median_total_s, 3),
        ratio(r.totalMs / 1000, t.median_total_s),
        s(r.decodeMs),
        f(t.median_decode_s, 3),
        ratio(r.decodeMs / 1000, t.median_decode_s),
        f(r.maxRssMB, 0),
        f(t.peak_rss_mib, 0),
        ratio(r.maxRssMB, t.peak_rss_mib),
        torchTargets(r, t),
      ].join(' | ')} |`,
    );
  }
  L.push('');
}

function renderLoad(rep: GenerateBenchReport, L: string[]): void {
  if (!rep.load?.length && !rep.loadSkipped?.length) return;
  L.push('## Loading (ready to generate vs torch.load of the same .pth files)');
  L.push('');
  L.push('Each var.ts row is a fresh child: the backend started (not timed), then `loadModel({ vae, var, config })` from the two');
  L.push('files until both models are built with their weights in backend memory, as many times as torch.load runs (disposing the');
  L.push('models in between). torch.load: a python child loading the same `.pth` files (map_location cpu) that many times. Both');
  L.push('sides report the best run (later runs reuse memory the process already touched) and the first (it pays the first touch');
  L.push(
    `of every page the weights take: on this VM about 2.5 s per GB for both). Target of issue [11]: ratio ≤ ${TORCH_TARGETS.load}×. Safetensors are`,
  );
  L.push('float32 files written by `var convert` from the same `.pth`. RSS: `maxRSS` of each child (var.ts includes the started backend).');
  L.push('');
  for (const why of rep.loadSkipped ?? []) L.push(`- skipped: ${esc(why)}`);
  for (const m of rep.load ?? [])
    if (m.torch.status !== 'ok') L.push(`- ${m.model}: torch.load ${m.torch.status}: ${esc(m.torch.reason)}`);
    else
      L.push(
        `- ${m.model}: torch.load ${m.torch.result.seconds.map((v) => v.toFixed(3)).join(', ')} s (${m.torch.result.tensors} tensors, ${(m.torch.result.bytes / 1e6).toFixed(0)} MB), RSS after \`import torch\` ${m.torch.result.baseline_rss_mib.toFixed(0)} MiB`,
      );
  L.push('');
  if (!rep.load?.length) return;
  L.push(`| ${LOAD_COLUMNS.join(' | ')} |`);
  L.push(`|${LOAD_COLUMNS.map((_, i) => (i < 4 || i === 8 || i === 9 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const m of rep.load) {
    const t = m.torch.status === 'ok' ? m.torch.result : null;
    for (const row of m.rows) {
      if (row.status !== 'ok') {
        const cells = [m.model, row.format, '', '', `${row.status}: ${esc(row.reason)}`];
        while (cells.length < LOAD_COLUMNS.length) cells.push('');
        L.push(`| ${cells.join(' | ')} |`);
        continue;
      }
      const r = row.result;
      const rt = t ? r.readyMs / 1000 / t.min_s : NaN;
      L.push(
        `| ${[
          m.model,
          r.format,
          r.backend,
          String(thr(r)),
          f(r.fileBytes.reduce((a, b) => a + b, 0) / 1e6, 0),
          s(r.readyMs),
          t ? f(t.min_s, 3) : '—',
          t ? ratio(r.readyMs / 1000, t.min_s) : '—',
          t ? ratioVerdict('ready', rt, TORCH_TARGETS.load).replace(/^ready /, '') : '—',
          r.runsMs?.length && t ? `${s(r.runsMs[0])} / ${f(t.seconds[0], 3)}` : '—',
          r.runsMs?.length && t ? ratio(r.runsMs[0] / 1000, t.seconds[0]) : '—',
          f(r.maxRssMB, 0),
          t ? f(t.peak_rss_mib, 0) : '—',
          t ? ratio(r.maxRssMB, t.peak_rss_mib) : '—',
          String(r.progressEvents),
        ].join(' | ')} |`,
      );
    }
  }
  L.push('');
}

/**
 * Problems with a load row (empty when sane): every byte of both files reported by the
 * progress, the weights in backend memory (4 bytes a parameter), nothing leaked.
 */
export function checkLoad(r: LoadResult): string[] {
  const bad: string[] = [];
  if (!(r.readyMs > 0)) bad.push(`readyMs = ${r.readyMs}`);
  r.fileBytes.forEach((b, i) => {
    if (r.progressBytes[i] !== b) bad.push(`progress reported ${r.progressBytes[i]} of ${b} bytes of ${r.files[i]}`);
  });
  if (r.backendBytes < 4 * r.params) bad.push(`backend holds ${r.backendBytes} bytes for ${r.params} parameters`);
  if (r.leakedTensors !== 0) bad.push(`${r.leakedTensors} tensors left after disposing the models`);
  return bad;
}

/**
 * d20 against d16 on the same backend and thread count: time ratios beside the FLOP ratios
 * (issue [11]: d20's time scales with its FLOPs, no stall). Transformer: the KV-cached steps.
 */
export function renderScaling(ok: { result: CaseResult }[], L: string[]): void {
  const pairs: [CaseResult, CaseResult][] = [];
  for (const { result: big } of ok) {
    if (big.case !== 'd20') continue;
    const base = ok.find(({ result: r }) => r.case === 'd16' && r.backend === big.backend && r.threads === big.threads);
    if (base) pairs.push([base.result, big]);
  }
  if (!pairs.length) return;
  L.push('## d20 against d16 (same backend and threads: time ratio vs FLOP ratio)');
  L.push('');
  L.push(
    '| backend | threads | d16 total s | d20 total s | total ratio | FLOP ratio | transformer ratio | its FLOP ratio | d20 peak RSS MiB |',
  );
  L.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const [a, b] of pairs) {
    const flops = (b.transformerGflop + b.decodeGflop) / (a.transformerGflop + a.decodeGflop);
    L.push(
      `| ${b.backend} | ${thr(b)} | ${s(a.totalMs)} | ${s(b.totalMs)} | ${f(b.totalMs / a.totalMs, 2)}× | ${f(flops, 2)}× | ` +
        `${f(b.transformerMs / a.transformerMs, 2)}× | ${f(b.transformerGflop / a.transformerGflop, 2)}× | ${f(b.maxRssMB, 0)} |`,
    );
  }
  L.push('');
  L.push(
    "On wasm d20 runs with @var/core's 'per-call' weight packing (its linear weights, 2.4 GB, cannot be held twice in the 4 GiB heap): each product packs its weight again.",
  );
  L.push('');
}

/** The speed goals of issue [09] at d16: share of the practical matMul peak (%). */
export const TARGETS = Object.freeze({ transformer: 80, decode: 70 });

export function renderMarkdown(rep: GenerateBenchReport): string {
  const m = rep.machine;
  const ok = rep.rows.filter((r): r is Extract<ReportRow, { status: 'ok' }> => r.status === 'ok');
  const L: string[] = [];
  L.push('# var.ts benchmarks: end-to-end generation');
  L.push('');
  L.push('<!-- Written by `pnpm bench:generate` (`var bench --generate`); do not edit by hand. -->');
  L.push('');
  L.push(`- Date: ${rep.date}`);
  L.push(
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory (${m.freeMemoryGiB.toFixed(1)} GiB free at start); ${m.os}`,
  );
  L.push(
    `- Load average (1/5/15 min) at start: ${m.loadAverageStart.map((v) => v.toFixed(2)).join(' / ')}${m.loadAverageEnd ? `; at end: ${m.loadAverageEnd.map((v) => v.toFixed(2)).join(' / ')}` : ''}`,
  );
  L.push(`- Node ${m.node}; TensorFlow.js (tfjs-core) ${rep.tfjsVersion ?? 'unknown'}`);
  L.push(`- Command: \`var bench --generate${rep.args ? ` ${rep.args}` : ''}\` (${rep.seconds.toFixed(0)} s)`);
  if (rep.webgpu) {
    L.push(
      `- WebGPU: ${rep.webgpu.available ? `${rep.webgpu.software ? 'software' : 'hardware'} adapter ${rep.webgpu.adapter ?? ''}` : 'no adapter'} — ${rep.webgpu.reason}`,
    );
  }
  L.push('');
  L.push('Each row is a fresh child process: backend initialised with the given thread count, a');
  L.push(
    `square matMul (${ok[0] ? `${ok[0].result.peakSize}³` : 'n³'}, best of a few after a warm-up) as the practical peak, the models built, then one`,
  );
  L.push('class-conditional generation of one image with classifier-free guidance (cfg 4, top-k 900, top-p 0.95,');
  L.push("seed 0), timed through the sampler's `onPhase` hook, which waits for the backend at each phase boundary.");
  L.push('*transformer*: the KV-cached transformer steps (2 sequences: conditional and unconditional; scale 0 includes');
  L.push('the session start); *sampling*: CFG, logits download, top-k/top-p on the CPU, f_hat update and next input;');
  L.push('*decode*: the VQVAE decoder. GFLOP/s count matmuls and convolutions analytically from the config (2 FLOPs');
  L.push("per multiply-add). Peak RSS is the child's `process.resourceUsage().maxRSS`; leaked tensors is");
  L.push('`tf.memory().numTensors` after the generation (results disposed) minus before.');
  L.push('');
  L.push(`| ${MAIN_COLUMNS.join(' | ')} |`);
  L.push(`|${MAIN_COLUMNS.map((_, i) => (i < 3 ? ' --- ' : ' ---: ')).join('|')}|`);
  for (const row of rep.rows) {
    if (row.status !== 'ok') {
      const cells = [row.case, row.backend, String(thr(row)), `${row.status}: ${row.reason.replace(/\|/g, '\\|').replace(/\s+/g, ' ')}`];
      while (cells.length < MAIN_COLUMNS.length) cells.push('');
      L.push(`| ${cells.join(' | ')} |`);
      continue;
    }
    const r = row.result;
    L.push(
      `| ${[
        r.case,
        r.backend + (r.backendDetail ? ` (${r.backendDetail})` : ''),
        String(thr(r)),
        s(r.totalMs),
        s(r.transformerMs),
        s(r.samplingMs),
        s(r.decodeMs),
        gf(r.transformerGflops),
        gf(r.decodeGflops),
        gf(r.peakGflops),
        f((100 * r.transformerGflops) / r.peakGflops, 0),
        f((100 * r.decodeGflops) / r.peakGflops, 0),
        f(r.maxRssMB, 0),
        String(r.leakedTensors),
      ].join(' | ')} |`,
    );
  }
  L.push('');
  const d16 = ok.filter((r) => r.case === 'd16');
  if (d16.length) {
    L.push('## Targets (d16, share of the matMul peak measured in the same process)');
    L.push('');
    L.push('| backend | threads | transformer | target | decode | target |');
    L.push('| --- | --- | ---: | --- | ---: | --- |');
    const verdict = (v: number, goal: number) => (v >= goal ? `≥ ${goal}%: met` : `≥ ${goal}%: missed by ${f(goal - v, 0)} points`);
    for (const { result: r } of d16) {
      const tp = (100 * r.transformerGflops) / r.peakGflops;
      const dp = (100 * r.decodeGflops) / r.peakGflops;
      L.push(
        `| ${r.backend} | ${thr(r)} | ${f(tp, 0)}% | ${verdict(tp, TARGETS.transformer)} | ${f(dp, 0)}% | ${verdict(dp, TARGETS.decode)} |`,
      );
    }
    L.push('');
  }
  renderScaling(ok, L);
  renderTorch(rep, L);
  renderLoad(rep, L);
  const cases = [...new Set(ok.map((r) => r.case))];
  if (cases.length) {
    L.push('## Cases');
    L.push('');
    for (const c of cases) L.push(`- ${describeCase(ok.find((r) => r.case === c)!.result)}`);
    L.push('');
    L.push('## Time per scale (transformer + sampling, ms)');
    for (const c of cases) {
      const rows = ok.filter((r) => r.case === c);
      const pns = rows[0].result.config.patchNums;
      L.push('');
      L.push(`### ${c}`);
      L.push('');
      L.push(`| backend | threads | ${pns.map((pn, si) => `s${si} ${pn}×${pn}`).join(' | ')} | decode | other | model build s |`);
      L.push(`| --- | --- |${pns.map(() => ' ---: ').join('|')}| ---: | ---: | ---: |`);
      for (const { result: r } of rows) {
        L.push(
          `| ${r.backend} | ${thr(r)} | ${r.scaleMs.map((v) => f(v, 1)).join(' | ')} | ${f(r.decodeMs, 1)} | ${f(r.otherMs, 1)} | ${s(r.buildMs)} |`,
        );
      }
      L.push('');
      L.push('Transformer share of each scale (ms):');
      L.push('');
      for (const { result: r } of rows) L.push(`- ${r.backend} ${thr(r)}: ${r.transformerScaleMs.map((v) => f(v, 1)).join(', ')}`);
    }
    L.push('');
  }
  return `${L.join('\n')}\n`;
}

/**
 * Problems with a measured row (empty when sane): times > 0 and finite, GFLOP/s finite and
 * positive, no leaked tensors, a finite image of the case's size.
 */
export function checkResult(r: CaseResult): string[] {
  const bad: string[] = [];
  const pos = (name: string, v: number) => {
    if (!(Number.isFinite(v) && v > 0)) bad.push(`${name} = ${v} (expected a finite number > 0)`);
  };
  pos('totalMs', r.totalMs);
  pos('transformerMs', r.transformerMs);
  pos('samplingMs', r.samplingMs);
  pos('decodeMs', r.decodeMs);
  r.scaleMs.forEach((v, i) => pos(`scaleMs[${i}]`, v));
  pos('transformerGflops', r.transformerGflops);
  pos('decodeGflops', r.decodeGflops);
  pos('peakGflops', r.peakGflops);
  pos('maxRssMB', r.maxRssMB);
  if (r.transformerMs + r.samplingMs + r.decodeMs > r.totalMs * 1.001 + 1) bad.push('the phases add up to more than the total');
  if (r.leakedTensors !== 0) bad.push(`${r.leakedTensors} tensors leaked`);
  if (!r.imageFinite) bad.push('the image has non-finite pixels');
  const side = r.config.imageSize;
  if (r.imageShape.join(',') !== [1, 3, side, side].join(',')) bad.push(`image shape ${r.imageShape} (expected 1,3,${side},${side})`);
  return bad;
}
