import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { writeFileAtomic } from '@var/data';
import { UsageError } from '../errors.js';
import { abs, addOutputOptions } from '../model.js';
import type { Ctx, Ui } from '../ui.js';

interface BenchOpts {
  only?: string;
  out?: string;
  list?: boolean;
  timeout?: string;
  json?: boolean;
  verbose?: boolean;
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
    .option('--timeout <s>', 'seconds per benchmark before it is stopped', '900')
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

The benchmarks import the packages' built dist/: run \`pnpm build\` first.`,
  );
  cmd.action(async (args: string[], o: BenchOpts) => benchAction(ctx.ui(o), args, o));
  return cmd;
}

function runScript(s: BenchScript, args: string[], timeoutS: number, signal: AbortSignal | undefined, ui: Ui): Promise<{ code: number | null; seconds: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [...s.command, ...args], { cwd: s.dir, stdio: ['ignore', 'pipe', 'pipe'], signal, timeout: timeoutS * 1000 });
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
    if (unknown.length) throw new UsageError(`--only: no benchmark for ${unknown.join(', ')} (have: ${scripts.map((s) => s.pkg.replace('@var/', '')).join(', ')})`);
    scripts = scripts.filter((s) => want.includes(s.pkg.replace('@var/', '')));
  }
  if (o.list) {
    for (const s of scripts) ui.line(`${s.pkg}: node ${s.command.join(' ')}`);
    ui.result({ command: 'bench', benchmarks: scripts.map((s) => ({ package: s.pkg, command: ['node', ...s.command] })) });
    return;
  }
  const timeout = Number(o.timeout ?? 900);
  const results = [];
  const bar = ui.progress('bench', scripts.length);
  try {
    for (const [i, s] of scripts.entries()) {
      bar.update(i, s.pkg);
      const r = await runScript(s, args, timeout, ui.io.signal, ui);
      results.push({ package: s.pkg, command: ['node', ...s.command, ...args].join(' '), exitCode: r.code, seconds: Math.round(r.seconds * 10) / 10, output: r.stdout.trimEnd(), stderr: r.stderr.trimEnd() });
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
