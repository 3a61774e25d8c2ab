import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { VarError } from '@var/core';
import { writeFileAtomic } from '@var/data';
import {
  BENCH_BACKENDS,
  CASE_NAMES,
  ERROR_PREFIX,
  RESULT_PREFIX,
  checkLoad,
  checkResult,
  defaultWarmup,
  machineInfo,
  planRuns,
  renderMarkdown,
  type CaseResult,
  type ChildSpec,
  type GenerateBenchReport,
  type LoadResult,
  type LoadRow,
  type LoadSpec,
  type ProbeResult,
  type ReportRow,
  type TorchRow,
} from '../bench/generate-report.js';
import { probeTorchSide, runTorchAnchor, runTorchLoad, type TorchSide } from '../bench/torch-side.js';
import { UsageError } from '../errors.js';
import { abs, addOutputOptions, intOpt } from '../model.js';
import type { Ctx, Ui } from '../ui.js';

interface BenchOpts {
  only?: string;
  out?: string;
  list?: boolean;
  timeout?: string;
  json?: boolean;
  verbose?: boolean;
  generate?: boolean;
  cases?: string;
  threads?: string;
  backends?: string;
  peakSize?: string;
  warmup?: string;
  fixture?: string;
  webgpuSoftware?: boolean;
  torch?: boolean;
  torchRuns?: string;
  torchAnchor?: string;
  load?: boolean;
  checkpoints?: string;
  safetensorsDir?: string;
}

export interface BenchScript {
  pkg: string;
  dir: string;
  command: string[];
}

/** The repository root (apps/cli/{src,dist}/../../..), if this CLI runs from a checkout. */
export function repoRoot(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../..', '../../../..']) {
    const r = resolve(here, up);
    if (existsSync(join(r, 'packages')) && existsSync(join(r, 'pnpm-workspace.yaml'))) return r;
  }
  return null;
}

/** Every package's `bench` script of the form `node <file> [args]`. */
export function findBenchScripts(root: string): BenchScript[] {
  const out: BenchScript[] = [];
  for (const d of readdirSync(join(root, 'packages')).sort()) {
    const pj = join(root, 'packages', d, 'package.json');
    if (!existsSync(pj)) continue;
    const p = JSON.parse(readFileSync(pj, 'utf8'));
    const s: string | undefined = p.scripts?.bench;
    if (!s) continue;
    const parts = s.trim().split(/\s+/);
    if (parts[0] !== 'node' || parts.length < 2) continue;
    out.push({ pkg: p.name, dir: join(root, 'packages', d), command: parts.slice(1) });
  }
  return out;
}

export function bench(ctx: Ctx): Command {
  const cmd = new Command('bench')
    .description("run the packages' benchmarks (their `bench` scripts) and collect their output into one report")
    .option('--only <pkgs>', 'comma-separated package names (e.g. sampling,transformer)')
    .option('-o, --out <file>', 'write the report (Markdown, or JSON when the name ends in .json)')
    .option('--list', 'list the benchmarks and exit')
    .option('--timeout <s>', 'seconds per benchmark before it is stopped (default 900; --generate: 3600 per case)')
    .option(
      '--generate',
      'end-to-end generation benchmark (one image, CFG on) per case × backend × threads, each in a fresh process; writes docs/benchmarks.md',
    )
    .option('--cases <list>', `--generate: cases, comma-separated (${CASE_NAMES.join(',')})`, CASE_NAMES.join(','))
    .option('--threads <list>', '--generate: wasm thread counts, comma-separated', '1,2')
    .option(
      '--backends <list>',
      `--generate: backends, comma-separated (${BENCH_BACKENDS.join(',')}; cpu runs the tiny case only; webgpu only on a hardware adapter)`,
      BENCH_BACKENDS.join(','),
    )
    .option('--peak-size <n>', '--generate: side of the square matMul measuring the practical peak', '1024')
    .option('--warmup <n>', '--generate: untimed generations before the timed one (default: 1, none for d16)')
    .option(
      '--fixture <dir>',
      '--generate: fixture case of the tiny case (config.json, vae/var.safetensors); default $VAR_FIXTURE_DIR or the one case in ../shared/fixtures',
    )
    .option('--webgpu-software', '--generate: run webgpu on a software adapter too (slow; for checking the code path)')
    .option('--no-torch', '--generate: skip the PyTorch side (torch_anchor.py per case, torch.load of the checkpoints)')
    .option('--torch-runs <n>', '--generate: timed PyTorch generations per case after its warm-up (default 3; d16: 2)')
    .option('--torch-anchor <file>', '--generate: torch_anchor.py (default $VAR_TORCH_ANCHOR or ../shared/bench/torch_anchor.py)')
    .option('--no-load', '--generate: skip the loading comparison (var.ts ready to generate vs torch.load)')
    .option(
      '--checkpoints <dir>',
      '--generate: d16 checkpoints for the loading row (var_d16.pth, vae_ch160v4096z32.pth; default $VAR_BENCH_CHECKPOINTS or ../bench-ckpt/d16)',
    )
    .option('--safetensors-dir <dir>', '--generate: where the d16 .pth files are converted to safetensors once (default: the temp dir)')
    .allowExcessArguments(true)
    .argument('[args...]', 'extra arguments passed to every benchmark after --, e.g. -- --backend wasm');
  addOutputOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Examples:
  $ var bench --list
  $ var bench --only sampling -- --backend wasm --threads 2
  $ var bench --out bench-report.md
  $ var bench --generate                       # all cases → docs/benchmarks.md (pnpm bench:generate)
  $ var bench --generate --cases tiny,mid --threads 1 --out - --json

The benchmarks import the packages' built dist/: run \`pnpm build\` first.`,
  );
  cmd.action(async (args: string[], o: BenchOpts) =>
    o.generate ? benchGenerateAction(ctx.ui(o), args, o) : benchAction(ctx.ui(o), args, o),
  );
  return cmd;
}

function runScript(
  s: BenchScript,
  args: string[],
  timeoutS: number,
  signal: AbortSignal | undefined,
  ui: Ui,
): Promise<{ code: number | null; seconds: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...s.command, ...args], {
      cwd: s.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal,
      timeout: timeoutS * 1000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (ui.verbose) ui.io.stderr(String(d));
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => (stderr += `\n${e.message}`));
    child.on('close', (code) => res({ code, seconds: (performance.now() - t0) / 1000, stdout, stderr }));
  });
}

export async function benchAction(ui: Ui, args: string[], o: BenchOpts): Promise<void> {
  const root = repoRoot();
  if (!root) throw new UsageError('var bench runs from a checkout of the var.ts repository (it runs packages/*/bench scripts)');
  let scripts = findBenchScripts(root);
  if (o.only) {
    const want = o.only.split(',').map((s) => s.trim().replace(/^@var\//, ''));
    const unknown = want.filter((w) => !scripts.some((s) => s.pkg === `@var/${w}`));
    if (unknown.length)
      throw new UsageError(
        `--only: no benchmark for ${unknown.join(', ')} (have: ${scripts.map((s) => s.pkg.replace('@var/', '')).join(', ')})`,
      );
    scripts = scripts.filter((s) => want.includes(s.pkg.replace('@var/', '')));
  }
  if (o.list) {
    for (const s of scripts) ui.line(`${s.pkg}: node ${s.command.join(' ')}`);
    ui.result({ command: 'bench', benchmarks: scripts.map((s) => ({ package: s.pkg, command: ['node', ...s.command] })) });
    return;
  }
  const timeout = intOpt('--timeout', o.timeout, 900, 1);
  const results = [];
  const bar = ui.progress('bench', scripts.length);
  try {
    for (const [i, s] of scripts.entries()) {
      bar.update(i, s.pkg);
      const r = await runScript(s, args, timeout, ui.io.signal, ui);
      results.push({
        package: s.pkg,
        command: ['node', ...s.command, ...args].join(' '),
        exitCode: r.code,
        seconds: Math.round(r.seconds * 10) / 10,
        output: r.stdout.trimEnd(),
        stderr: r.stderr.trimEnd(),
      });
      ui.debug(`${s.pkg}: exit ${r.code} in ${r.seconds.toFixed(1)} s`);
    }
    bar.update(scripts.length);
  } finally {
    bar.stop();
  }
  const when = new Date().toISOString();
  const md = [
    `# var.ts benchmarks`,
    '',
    `${when} · node ${process.version} · ${process.platform}/${process.arch}${args.length ? ` · args: ${args.join(' ')}` : ''}`,
    '',
    ...results.flatMap((r) => [
      `## ${r.package}`,
      '',
      `\`${r.command}\` — exit ${r.exitCode}, ${r.seconds} s`,
      '',
      '```',
      r.output || '(no output)',
      ...(r.exitCode !== 0 && r.stderr ? ['--- stderr ---', r.stderr.split('\n').slice(-20).join('\n')] : []),
      '```',
      '',
    ]),
  ].join('\n');
  const report = { command: 'bench', date: when, node: process.version, platform: `${process.platform}/${process.arch}`, args, results };
  if (o.out) {
    const f = abs(ui.io, o.out);
    await writeFileAtomic(f, new TextEncoder().encode(f.endsWith('.json') ? `${JSON.stringify(report, null, 2)}\n` : md));
    ui.line(f);
  } else if (!ui.json) {
    ui.io.stdout(md);
  }
  ui.result(report);
  const failed = results.filter((r) => r.exitCode !== 0);
  if (failed.length) ui.warn(`${failed.length} benchmark(s) failed: ${failed.map((r) => r.package).join(', ')}`);
}

// ------------------------------------------------------------------ --generate

function listOpt<T extends string>(name: string, v: string | undefined, allowed: readonly T[]): T[] {
  const items = (v ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  const bad = items.filter((x) => !allowed.includes(x as T));
  if (bad.length || !items.length)
    throw new UsageError(`${name}: expected a comma-separated list of ${allowed.join(', ')}; got ${JSON.stringify(v)}`);
  return [...new Set(items)] as T[];
}

/** The fixture case of the tiny case: --fixture, $VAR_FIXTURE_DIR (relative to the repo root), or the only case in ../shared/fixtures. */
export function findFixtureDir(root: string, given?: string, cwd = process.cwd()): string {
  const isCase = (d: string) => ['config.json', 'vae.safetensors', 'var.safetensors'].every((f) => existsSync(join(d, f)));
  const env = process.env.VAR_FIXTURE_DIR;
  const dir = given ? resolve(cwd, given) : env ? resolve(root, env) : null;
  if (dir) {
    if (!isCase(dir))
      throw new UsageError(
        `${given ? '--fixture' : 'VAR_FIXTURE_DIR'}: ${dir} is not a fixture case (needs config.json, vae.safetensors, var.safetensors)`,
      );
    return dir;
  }
  const shared = resolve(root, '..', 'shared', 'fixtures');
  const found = existsSync(shared)
    ? readdirSync(shared)
        .map((d) => join(shared, d))
        .filter(isCase)
        .sort()
    : [];
  if (found.length !== 1) {
    throw new UsageError(
      found.length
        ? `several fixture cases in ${shared} (${found.map((d) => d.slice(shared.length + 1)).join(', ')}): choose one with --fixture or VAR_FIXTURE_DIR`
        : `no fixture case in ${shared}: give the tiny case with --fixture DIR or VAR_FIXTURE_DIR`,
    );
  }
  return found[0];
}

/** The built child entry (dist/bench-child.js), from src/commands (tests) or from dist (the bin). */
function childEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const p of [join(here, 'bench-child.js'), resolve(here, '..', '..', 'dist', 'bench-child.js')]) if (existsSync(p)) return p;
  throw new UsageError('var bench --generate runs the built dist/bench-child.js of @var/cli: run `pnpm build` first');
}

interface ChildOutcome {
  value?: unknown;
  error?: string;
}

function runChild(entry: string, arg: string, cwd: string, timeoutS: number, ui: Ui): Promise<ChildOutcome> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [entry, arg], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: ui.io.signal,
      timeout: timeoutS * 1000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (ui.verbose) ui.io.stderr(String(d));
    });
    child.on('error', (e) => (stderr += `\n${e.message}`));
    child.on('close', (code, sig) => {
      const lines = stdout.split('\n');
      const ok = lines.find((l) => l.startsWith(RESULT_PREFIX));
      const err = lines.find((l) => l.startsWith(ERROR_PREFIX));
      if (ok && code === 0) {
        try {
          res({ value: JSON.parse(ok.slice(RESULT_PREFIX.length)) });
          return;
        } catch (e) {
          res({ error: `unreadable result (${(e as Error).message})` });
          return;
        }
      }
      if (err) res({ error: err.slice(ERROR_PREFIX.length) });
      else if (sig) res({ error: `stopped by ${sig}${sig === 'SIGTERM' ? ` (over --timeout ${timeoutS} s?)` : ''}` });
      else res({ error: `exit ${code}: ${stderr.trim().split('\n').slice(-3).join(' ') || 'no output'}` });
    });
  });
}

export async function benchGenerateAction(ui: Ui, args: string[], o: BenchOpts): Promise<void> {
  if (args.length) throw new UsageError(`--generate takes no extra arguments; got ${args.join(' ')}`);
  const root = repoRoot();
  if (!root)
    throw new UsageError(
      'var bench --generate runs from a checkout of the var.ts repository (it needs the built CLI and, for the tiny case, the fixtures)',
    );
  const cases = listOpt('--cases', o.cases, CASE_NAMES);
  const backends = listOpt('--backends', o.backends, BENCH_BACKENDS);
  const threads = [...new Set((o.threads ?? '1,2').split(',').map((t) => intOpt('--threads', t.trim(), 1, 1, 8)))];
  const peakSize = intOpt('--peak-size', o.peakSize, 1024, 1, 8192);
  const warmup = o.warmup !== undefined ? intOpt('--warmup', o.warmup, 0, 0, 100) : undefined;
  const timeout = intOpt('--timeout', o.timeout, 3600, 1);
  const fixtureDir = cases.includes('tiny') ? findFixtureDir(root, o.fixture, ui.io.cwd) : undefined;
  const entry = childEntry();
  const outPath = o.out === '-' ? null : abs(ui.io, o.out ?? join(root, 'docs', 'benchmarks.md'));

  const t0 = performance.now();
  const machine = machineInfo();
  const rows: ReportRow[] = [];
  let probe: ProbeResult | null = null;
  let runWebgpu = false;
  if (backends.includes('webgpu')) {
    const p = await runChild(entry, 'probe', root, 120, ui);
    probe = (p.value as ProbeResult | undefined) ?? { available: false, software: null, adapter: null, reason: p.error ?? 'probe failed' };
    runWebgpu = probe.available && (!probe.software || !!o.webgpuSoftware);
  }
  const plan = planRuns(cases, backends, threads);
  const torch = await probeTorchSide(root, { anchor: o.torchAnchor, disabled: o.torch === false });
  const torchRuns = o.torchRuns !== undefined ? intOpt('--torch-runs', o.torchRuns, 3, 1, 50) : undefined;
  const torchRows: TorchRow[] = [];
  const runTorch = async (c: (typeof cases)[number]) => {
    if (torch.skipped) {
      torchRows.push({ status: 'skipped', case: c, reason: torch.skipped });
      return;
    }
    if (c === 'd20') {
      // d20 is compared with d16 by FLOPs (issue [11]: its time scales with them), not with PyTorch
      torchRows.push({ status: 'skipped', case: c, reason: 'torch_anchor.py has no d20 configuration (tiny, mid, d16)' });
      return;
    }
    ui.debug(`bench: ${c} PyTorch …`);
    try {
      const result = await runTorchAnchor(torch, c, torchRuns ?? (c === 'd16' ? 2 : 3), timeout, ui.io.signal);
      torchRows.push({ status: 'ok', case: c, result });
    } catch (e) {
      torchRows.push({ status: 'failed', case: c, reason: (e as Error).message });
    }
  };
  const bar = ui.progress('bench', plan.length);
  try {
    for (const [i, p] of plan.entries()) {
      if (i > 0 && plan[i - 1].case !== p.case) await runTorch(plan[i - 1].case);
      const label = `${p.case} ${p.backend}${p.threads ? ` ×${p.threads}` : ''}`;
      bar.update(i, label);
      if (p.backend === 'webgpu' && !runWebgpu) {
        const why = !probe!.available
          ? `no WebGPU adapter (${probe!.reason})`
          : `only a software adapter (${probe!.reason}); slower than wasm`;
        rows.push({ status: 'skipped', case: p.case, backend: p.backend, threads: null, reason: why });
        continue;
      }
      const spec: ChildSpec = {
        case: p.case,
        backend: p.backend,
        peakSize,
        warmup: warmup ?? defaultWarmup(p.case),
        ...(p.threads ? { threads: p.threads } : {}),
        ...(p.case === 'tiny' ? { fixtureDir } : {}),
        ...(p.backend === 'webgpu' && o.webgpuSoftware ? { allowSoftwareWebgpu: true } : {}),
      };
      ui.debug(`bench: ${label} …`);
      const r = await runChild(entry, JSON.stringify(spec), root, timeout, ui);
      if (r.value) {
        const result = r.value as CaseResult;
        rows.push({ status: 'ok', case: p.case, backend: p.backend, threads: result.threads, result });
        ui.debug(`bench: ${label}: total ${(result.totalMs / 1000).toFixed(2)} s`);
      } else {
        rows.push({ status: 'failed', case: p.case, backend: p.backend, threads: p.threads, reason: r.error ?? 'unknown' });
        ui.debug(`bench: ${label}: failed: ${r.error}`);
      }
    }
    if (plan.length) await runTorch(plan[plan.length - 1].case);
    bar.update(plan.length);
  } finally {
    bar.stop();
  }
  const { load, loadSkipped } =
    o.load === false
      ? { load: [], loadSkipped: ['turned off (--no-load)'] }
      : await runLoads(ui, {
          root,
          entry,
          cases,
          fixtureDir,
          threads,
          torch,
          timeout,
          checkpoints: o.checkpoints,
          stDir: o.safetensorsDir,
        });
  const ok = rows.flatMap((r) => (r.status === 'ok' ? [r.result] : []));
  const report: GenerateBenchReport = {
    command: 'bench --generate',
    date: new Date().toISOString(),
    machine: { ...machine, loadAverageEnd: loadavg() },
    tfjsVersion: ok[0]?.tfjsVersion ?? null,
    args: [
      `--cases ${cases.join(',')}`,
      `--backends ${backends.join(',')}`,
      `--threads ${threads.join(',')}`,
      ...(peakSize !== 1024 ? [`--peak-size ${peakSize}`] : []),
      ...(warmup !== undefined ? [`--warmup ${warmup}`] : []),
      ...(o.webgpuSoftware ? ['--webgpu-software'] : []),
      ...(o.torch === false ? ['--no-torch'] : []),
      ...(torchRuns !== undefined ? [`--torch-runs ${torchRuns}`] : []),
      ...(o.load === false ? ['--no-load'] : []),
      ...(o.checkpoints ? [`--checkpoints ${o.checkpoints}`] : []),
    ].join(' '),
    webgpu: probe,
    rows,
    torch,
    torchRows,
    load,
    loadSkipped,
    seconds: (performance.now() - t0) / 1000,
  };
  const md = renderMarkdown(report);
  if (outPath) {
    await writeFileAtomic(outPath, new TextEncoder().encode(outPath.endsWith('.json') ? `${JSON.stringify(report, null, 2)}\n` : md));
    ui.line(outPath);
  } else if (!ui.json) {
    ui.io.stdout(md);
  }
  ui.result(report);
  const problems = [
    ...rows.flatMap((r) => (r.status === 'failed' ? [`${r.case} ${r.backend}${r.threads ? ` ×${r.threads}` : ''}: ${r.reason}`] : [])),
    ...ok.flatMap((r) => checkResult(r).map((m) => `${r.case} ${r.backend}${r.threads ? ` ×${r.threads}` : ''}: ${m}`)),
    ...torchRows.flatMap((t) => (t.status === 'failed' ? [`${t.case} PyTorch: ${t.reason}`] : [])),
    ...(torch.blas?.reference
      ? [
          `PyTorch multiplies with netlib's reference BLAS (${torch.blas.library}, ${torch.blas.peakGflops.toFixed(1)} GFLOP/s): its figures are no baseline; apt-get install libopenblas0-pthread`,
        ]
      : []),
    ...load.flatMap((m) => [
      ...(m.torch.status === 'failed' ? [`${m.model} torch.load: ${m.torch.reason}`] : []),
      ...m.rows.flatMap((r) =>
        r.status === 'ok'
          ? checkLoad(r.result).map((x) => `${m.model} load ${r.result.format}: ${x}`)
          : r.status === 'failed'
            ? [`${m.model} load ${r.format}: ${r.reason}`]
            : [],
      ),
    ]),
  ];
  if (problems.length) throw new VarError('E_BENCH', `${problems.length} problem(s) in the generation benchmark: ${problems.join('; ')}`);
}

interface LoadPlanOpts {
  root: string;
  entry: string;
  cases: string[];
  fixtureDir: string | undefined;
  threads: number[];
  torch: TorchSide;
  timeout: number;
  checkpoints?: string;
  stDir?: string;
}

/** The d16 checkpoint directory: --checkpoints, $VAR_BENCH_CHECKPOINTS, or ../bench-ckpt/d16 beside the checkout. */
function findCheckpoints(root: string, given: string | undefined, cwd: string): { dir: string | null; why: string } {
  const files = ['var_d16.pth', 'vae_ch160v4096z32.pth'];
  const has = (d: string) => files.every((f) => existsSync(join(d, f)));
  const dir = given ? resolve(cwd, given) : process.env.VAR_BENCH_CHECKPOINTS ? resolve(process.env.VAR_BENCH_CHECKPOINTS) : null;
  if (dir) {
    if (!has(dir)) throw new UsageError(`--checkpoints: ${dir} lacks ${files.join(' or ')}`);
    return { dir, why: '' };
  }
  const near = resolve(root, '..', 'bench-ckpt', 'd16');
  if (has(near)) return { dir: near, why: '' };
  return {
    dir: null,
    why: `d16: no checkpoint directory (give --checkpoints DIR with ${files.join(' and ')}, e.g. written by make_official_checkpoint.py 16 DIR)`,
  };
}

/** `var convert IN OUT --preset P` in a child (once: kept when OUT is newer than IN). */
async function convertOnce(ui: Ui, entry: string, src: string, dst: string, preset: string, timeout: number): Promise<string | null> {
  if (existsSync(dst) && statSync(dst).mtimeMs >= statSync(src).mtimeMs) return null;
  const bin = join(dirname(entry), 'bin.js');
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, 'convert', src, dst, '--preset', preset, '--force'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      signal: ui.io.signal,
      timeout: timeout * 1000,
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => (err += e.message));
    child.on('close', (code) =>
      res(code === 0 ? null : `var convert ${src} failed (exit ${code}): ${err.trim().split('\n').slice(-2).join(' ')}`),
    );
  });
}

/** The loading comparison: tiny (the fixture's .pth and .safetensors) and d16 (checkpoint directory), when their cases run. */
/** Loads per process on each side (the best and the first are reported). */
const loadRuns = (_model: string) => 3;

async function runLoads(ui: Ui, o: LoadPlanOpts): Promise<{ load: LoadRow[]; loadSkipped: string[] }> {
  const load: LoadRow[] = [];
  const loadSkipped: string[] = [];
  const threads = Math.max(...o.threads);
  const models: { model: string; pth: [string, string]; st: [string, string] | string; config: string }[] = [];
  if (o.cases.includes('tiny') && o.fixtureDir) {
    const d = o.fixtureDir;
    if (existsSync(join(d, 'vae.pth')) && existsSync(join(d, 'var.pth')))
      models.push({
        model: 'tiny',
        pth: [join(d, 'vae.pth'), join(d, 'var.pth')],
        st: [join(d, 'vae.safetensors'), join(d, 'var.safetensors')],
        config: join(d, 'config.json'),
      });
    else loadSkipped.push(`tiny: the fixture case ${d} has no vae.pth / var.pth`);
  }
  if (o.cases.includes('d16')) {
    const c = findCheckpoints(o.root, o.checkpoints, ui.io.cwd);
    if (!c.dir) loadSkipped.push(c.why);
    else {
      const pth: [string, string] = [join(c.dir, 'vae_ch160v4096z32.pth'), join(c.dir, 'var_d16.pth')];
      const stDir = resolve(ui.io.cwd, o.stDir ?? join(tmpdir(), 'var-bench-safetensors'));
      mkdirSync(stDir, { recursive: true });
      const st: [string, string] = [join(stDir, 'vae_ch160v4096z32.safetensors'), join(stDir, 'var_d16.safetensors')];
      ui.debug(`bench: converting the d16 checkpoints to safetensors in ${stDir} (once) …`);
      const err =
        (await convertOnce(ui, o.entry, pth[0], st[0], 'vae_ch160v4096z32', o.timeout)) ??
        (await convertOnce(ui, o.entry, pth[1], st[1], 'd16', o.timeout));
      models.push({ model: 'd16', pth, st: err ?? st, config: 'd16' });
    }
  }
  for (const m of models) {
    ui.debug(`bench: loading ${m.model} …`);
    let torchRes: LoadRow['torch'];
    if (o.torch.skipped) torchRes = { status: 'skipped', reason: o.torch.skipped };
    else {
      try {
        torchRes = { status: 'ok', result: await runTorchLoad(o.torch, m.pth, loadRuns(m.model), o.timeout, ui.io.signal) };
      } catch (e) {
        torchRes = { status: 'failed', reason: (e as Error).message };
      }
    }
    const rows: LoadRow['rows'] = [];
    for (const format of ['pth', 'safetensors'] as const) {
      const files = format === 'pth' ? m.pth : m.st;
      if (typeof files === 'string') {
        rows.push({ status: 'failed', format, reason: files });
        continue;
      }
      const spec: LoadSpec = {
        kind: 'load',
        model: m.model,
        format,
        backend: 'wasm',
        threads,
        vae: files[0],
        var: files[1],
        config: m.config,
        runs: loadRuns(m.model),
      };
      const r = await runChild(o.entry, JSON.stringify(spec), o.root, o.timeout, ui);
      rows.push(r.value ? { status: 'ok', result: r.value as LoadResult } : { status: 'failed', format, reason: r.error ?? 'unknown' });
    }
    load.push({ model: m.model, torch: torchRes, rows });
  }
  return { load, loadSkipped };
}
