/**
 * The PyTorch side of `var bench --generate`: the official code (`torch_anchor.py`, one
 * generation per case) and `torch.load` of the same checkpoint files, each in a python child
 * on the same machine in the same command, so the report prints ratios rather than absolute
 * times (which swing 2-3× between runs and machines).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { CaseName } from './generate-report.js';

/** One JSON line of torch_anchor.py (generation). */
export interface TorchAnchorResult {
  config: string;
  runs: number;
  median_total_s: number;
  min_total_s: number;
  median_decode_s: number;
  params_var: number;
  params_vae: number;
  peak_rss_mib: number;
  torch: string;
}

/** What the torch.load child prints. */
export interface TorchLoadResult {
  runs: number;
  seconds: number[];
  min_s: number;
  bytes: number;
  tensors: number;
  baseline_rss_mib: number;
  peak_rss_mib: number;
  torch: string;
}

/** Where the PyTorch side runs from, or why it does not. */
export interface TorchSide {
  python: string | null;
  torch: string | null;
  anchor: string | null;
  /** Why the PyTorch side is skipped (null when it runs). */
  skipped: string | null;
  /** The BLAS library torch's process mapped after a product, and its matMul rate (see {@link probeTorchBlas}). */
  blas?: TorchBlas | null;
}

/** What PyTorch multiplies with here: a reference BLAS makes every PyTorch figure many times slower. */
export interface TorchBlas {
  /** Path of the BLAS shared library in the process (e.g. …/openblas-pthread/libblas.so.3), or null if none was found. */
  library: string | null;
  /** True for netlib's reference BLAS (Debian's libblas3), which has no optimised kernels. */
  reference: boolean;
  /** GFLOP/s of an n×n×n float32 matMul on 2 threads, median of 5 after a warm-up. */
  peakGflops: number;
  n: number;
}

interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

function runProc(cmd: string, args: string[], timeoutS: number, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal): Promise<Proc> {
  return new Promise((res) => {
    let stdout = '';
    let stderr = '';
    let error: string | undefined;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env, timeout: timeoutS * 1000, ...(signal ? { signal } : {}) });
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => (error = e.message));
    child.on('close', (code, sig) => res({ code, stdout, stderr, ...(error || sig ? { error: error ?? `stopped by ${sig}` } : {}) }));
  });
}

const tail = (p: Proc) => (p.error ?? p.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${p.code}`).slice(0, 200);

/**
 * The first python that imports torch: $VAR_TORCH_PYTHON, `python3` on PATH, `/usr/bin/python3`
 * (Debian's python3-torch; a pyenv python3 usually has no torch).
 */
export async function findTorchPython(): Promise<{ python: string | null; torch: string | null; tried: string[] }> {
  const candidates = [...new Set([process.env.VAR_TORCH_PYTHON, 'python3', '/usr/bin/python3'].filter((c): c is string => !!c))];
  const tried: string[] = [];
  for (const py of candidates) {
    const p = await runProc(py, ['-c', 'import torch; print(torch.__version__)'], 120);
    const v = p.stdout.trim().split('\n').pop() ?? '';
    if (p.code === 0 && v) return { python: py, torch: v, tried };
    tried.push(`${py}: ${tail(p)}`);
  }
  return { python: null, torch: null, tried };
}

/** torch_anchor.py: $VAR_TORCH_ANCHOR, or ../shared/bench/torch_anchor.py beside the checkout. */
export function findAnchor(root: string, given?: string): string {
  return resolve(root, given ?? process.env.VAR_TORCH_ANCHOR ?? join('..', 'shared', 'bench', 'torch_anchor.py'));
}

/** Decide whether the PyTorch side runs: a python with torch, the anchor script and the official code it reads. */
export async function probeTorchSide(root: string, opts: { anchor?: string; disabled?: boolean } = {}): Promise<TorchSide> {
  if (opts.disabled) return { python: null, torch: null, anchor: null, skipped: 'turned off (--no-torch)' };
  const anchor = findAnchor(root, opts.anchor);
  if (!existsSync(anchor)) return { python: null, torch: null, anchor: null, skipped: `no torch_anchor.py at ${anchor}` };
  const ref = process.env.VAR_REF ?? join(dirname(anchor), '..', 'reference', 'VAR');
  if (!existsSync(join(ref, 'models', 'var.py')))
    return { python: null, torch: null, anchor, skipped: `the official reference code is absent (${ref}/models/var.py; set VAR_REF)` };
  const py = await findTorchPython();
  if (!py.python) return { python: null, torch: null, anchor, skipped: `no python with torch (tried ${py.tried.join('; ')})` };
  return { python: py.python, torch: py.torch, anchor, skipped: null, blas: await probeTorchBlas(py.python, 1024) };
}

const TORCH_BLAS_PY = `
import sys, time, json, re, torch
torch.set_num_threads(2)
n = int(sys.argv[1]); a = torch.randn(n, n); b = torch.randn(n, n); a @ b
ts = []
for _ in range(5):
    t0 = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t0)
libs = sorted({l.split()[-1] for l in open('/proc/self/maps') if re.search('blas|blis|mkl', l.split()[-1].lower())}) if sys.platform == 'linux' else []
print(json.dumps({"n": n, "peakGflops": 2 * n ** 3 / sorted(ts)[2] / 1e9, "libs": libs}))
`;

/**
 * Which BLAS PyTorch uses and how fast it multiplies (an n×n×n float32 product, 2 threads). Debian's
 * python3-torch calls whatever provides libblas.so.3: installed without recommends that is netlib's
 * reference BLAS (package libblas3), 50-70× slower than OpenBLAS (libopenblas0-pthread) on this CPU,
 * which would make every PyTorch baseline meaninglessly slow. Null when the probe fails.
 */
export async function probeTorchBlas(python: string, n: number): Promise<TorchBlas | null> {
  const p = await runProc(python, ['-c', TORCH_BLAS_PY, String(n)], 300, torchEnv());
  try {
    const r = lastJson<{ n: number; peakGflops: number; libs: string[] }>(p);
    const library = r.libs.find((l) => /blas|blis|mkl/i.test(l)) ?? null;
    const reference = library !== null && /\/blas\/libblas\.so/.test(library);
    return { library, reference, peakGflops: r.peakGflops, n: r.n };
  } catch {
    return null;
  }
}

function lastJson<T>(p: Proc): T {
  const line = p.stdout
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.trimStart().startsWith('{'));
  if (p.code !== 0 || !line) throw new Error(`exit ${p.code}${p.error ? ` (${p.error})` : ''}: ${tail(p)}`);
  return JSON.parse(line) as T;
}

const torchEnv = () => ({ ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });

/** torch_anchor.py CASE RUNS: the official code generating one image (median of RUNS after a warm-up). */
export async function runTorchAnchor(side: TorchSide, name: CaseName, runs: number, timeoutS: number, signal?: AbortSignal) {
  return lastJson<TorchAnchorResult>(await runProc(side.python!, [side.anchor!, name, String(runs)], timeoutS, torchEnv(), signal));
}

/** The torch.load child: load every file (map_location cpu) RUNS times, each time after dropping the previous state dicts. */
const TORCH_LOAD_PY = `
import sys, time, json, resource, torch
torch.set_num_threads(2)
runs = int(sys.argv[1]); files = sys.argv[2:]
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = rss(); ts = []; nbytes = 0; n = 0
for i in range(runs):
    t0 = time.perf_counter(); sds = [torch.load(f, map_location='cpu') for f in files]; ts.append(time.perf_counter() - t0)
    ten = [t for sd in sds for t in sd.values() if torch.is_tensor(t)]
    nbytes = sum(t.numel() * t.element_size() for t in ten); n = len(ten); del sds, ten
print(json.dumps({"runs": runs, "seconds": ts, "min_s": min(ts), "bytes": nbytes, "tensors": n, "baseline_rss_mib": base, "peak_rss_mib": rss(), "torch": torch.__version__}))
`;

export async function runTorchLoad(side: TorchSide, files: string[], runs: number, timeoutS: number, signal?: AbortSignal) {
  return lastJson<TorchLoadResult>(
    await runProc(side.python!, ['-c', TORCH_LOAD_PY, String(runs), ...files], timeoutS, torchEnv(), signal),
  );
}
