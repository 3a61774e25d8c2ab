/**
 * Pack-and-install harness: pack the published packages with `pnpm pack` (which rewrites
 * `workspace:` ranges), install one package alone into an empty project with npm (its @var
 * dependencies come from the packed tarballs through npm `overrides`, third-party packages
 * from the registry, one shared npm cache), then run its README example there in plain Node
 * and type-check it with `tsc --noEmit`.
 *
 * README conventions (see tooling/pack-test/README.md):
 * - the first ```sh/```bash block with `npm install …` / `pnpm add …` is what a user installs;
 * - a ```ts or ```js block directly followed by a `<!-- pack-test -->` line is a tested
 *   example; `<!-- pack-test: bare -->` marks one that must run with the package alone,
 *   before the README's other packages (e.g. a backend) are installed. (The marker follows
 *   the block so that other tests that look for "## Example" + a fence keep working.)
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { builtinModules, createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The published packages (directories under packages/), in dependency order. */
export const PUBLISHED = [
  'core',
  'checkpoint',
  'tokenizer',
  'transformer',
  'sampling',
  'metrics',
  'data',
  'datasets',
  'models',
  'train',
  'pipeline',
] as const;
export type PackageDir = (typeof PUBLISHED)[number];

export interface PackageJson {
  name: string;
  version: string;
  private?: boolean;
  type?: string;
  main?: string;
  types?: string;
  exports?: Record<string, unknown>;
  files?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
  [k: string]: unknown;
}

export function readPackageJson(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

export const packageDir = (d: string) => join(repoRoot, 'packages', d);

/** Map @var/<x> → its directory name, for the published packages. */
export function workspacePackages(): Map<string, { dir: PackageDir; pkg: PackageJson }> {
  const m = new Map<string, { dir: PackageDir; pkg: PackageJson }>();
  for (const d of PUBLISHED) {
    const pkg = readPackageJson(packageDir(d));
    m.set(pkg.name, { dir: d, pkg });
  }
  return m;
}

/** A command's output; a failure throws an Error with the command, its exit code and output tails. */
export function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: { ...process.env, ...opts.env }, maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 300_000, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          const tail = (s: string) => s.split('\n').slice(-40).join('\n');
          reject(
            new Error(
              `${cmd} ${args.join(' ')} (in ${opts.cwd}) failed: ${err.message}\n--- stdout\n${tail(stdout)}\n--- stderr\n${tail(stderr)}`,
            ),
          );
        } else resolve({ stdout, stderr });
      },
    );
  });
}

/** At most `n` calls of the returned wrapper run at a time. */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

/** CPU-bound steps (examples, tsc) run at most one per core; installs (network, disk) a few more. */
export const cpuSlot = limiter(Math.max(1, cpus().length));
export const installSlot = limiter(4);

/**
 * Pack every published package into `dest` (building a package first when its dist/ is
 * missing). Returns package name → tarball path.
 */
export async function packAll(dest: string): Promise<Map<string, string>> {
  await mkdir(dest, { recursive: true });
  const out = new Map<string, string>();
  await Promise.all(
    PUBLISHED.map(async (d) => {
      const dir = packageDir(d);
      if (!existsSync(join(dir, 'dist', 'index.js'))) await run('pnpm', ['run', 'build'], { cwd: dir });
      const { stdout } = await run('pnpm', ['pack', '--pack-destination', dest, '--json'], { cwd: dir });
      const info = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { name: string; filename: string };
      const file = existsSync(info.filename) ? info.filename : join(dest, info.filename);
      if (!existsSync(file)) throw new Error(`pnpm pack of ${d} reported ${info.filename}, which does not exist`);
      out.set(info.name, file);
    }),
  );
  return out;
}

export interface ReadmeExample {
  lang: 'ts' | 'js';
  code: string;
  /** Runs with the package alone, before the README's other packages are installed. */
  bare: boolean;
}

/** The blocks of a README followed by `<!-- pack-test -->` (or `<!-- pack-test: bare -->`), in order. */
export function readmeExamples(md: string): ReadmeExample[] {
  const re = /^```(ts|js)\n((?:(?!```)[\s\S])*)```[ \t]*\n<!--\s*pack-test(?::\s*([\w-]+))?\s*-->/gm;
  return [...md.matchAll(re)].map((m) => ({ lang: m[1] as 'ts' | 'js', code: m[2], bare: m[3] === 'bare' }));
}

/**
 * Package specs of the README's install commands: the `npm install` / `npm i` / `pnpm add`
 * lines of the first shell block that has one (continuations joined, comments dropped).
 */
export function readmeInstall(md: string): string[] {
  for (const block of md.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    const joined = block[1].replace(/\\\n/g, ' ');
    const specs: string[] = [];
    for (const line of joined.split('\n')) {
      const m = /^\s*(?:npm (?:install|i)|pnpm add|yarn add)\s+(.*)$/.exec(line.replace(/#.*$/, ''));
      if (m) specs.push(...m[1].split(/\s+/).filter((w) => w && !w.startsWith('-')));
    }
    if (specs.length) return specs;
  }
  return [];
}

/** The bare module specifiers an example imports (node: builtins left out). */
export function importedPackages(code: string): string[] {
  const specs = new Set<string>();
  for (const m of code.matchAll(/(?:^|\n)\s*import\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/g)) specs.add(m[1]);
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.add(m[1]);
  return [...specs]
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]));
}

/** TypeScript → ESM JavaScript (types stripped, nothing else changed). */
export function toEsm(code: string, lang: 'ts' | 'js'): string {
  if (lang === 'js') return code;
  return ts.transpileModule(code, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: false },
  }).outputText;
}

/** The @var packages a package depends on, transitively (not itself). */
export function varClosure(name: string, ws = workspacePackages()): Set<string> {
  const seen = new Set<string>();
  const visit = (n: string) => {
    for (const d of Object.keys(ws.get(n)?.pkg.dependencies ?? {})) {
      if (ws.has(d) && !seen.has(d)) {
        seen.add(d);
        visit(d);
      }
    }
  };
  visit(name);
  return seen;
}

/**
 * The dependencies of the test app for package `name` whose README asks to install
 * `installList`: @var packages from tarballs (its dependencies, or packages the README
 * installs beside it, as @var/sampling's models), third-party packages at the range the
 * package (or one of its @var dependencies) declares for them as a peer or dependency.
 */
export function appDependencies(
  name: string,
  installList: string[],
  tarballs: Map<string, string>,
  ws = workspacePackages(),
): Record<string, string> {
  const closure = varClosure(name, ws);
  const deps: Record<string, string> = {};
  for (const spec of installList) {
    const n = spec.startsWith('@') ? spec.split('@').slice(0, 2).join('@') : spec.split('@')[0];
    if (ws.has(n)) {
      deps[n] = `file:${tarballs.get(n)}`;
      continue;
    }
    // the range the package or its @var dependencies declare; else the version it is tested with
    let range: string | undefined;
    const beside = installList
      .map((s) => (s.startsWith('@') ? s.split('@').slice(0, 2).join('@') : s.split('@')[0]))
      .filter((p) => ws.has(p));
    for (const p of [name, ...closure, ...beside.flatMap((b) => [b, ...varClosure(b, ws)])]) {
      const pkg = ws.get(p)!.pkg;
      range ??= pkg.peerDependencies?.[n] ?? pkg.dependencies?.[n];
    }
    range ??= ws.get(name)!.pkg.devDependencies?.[n];
    if (!range) throw new Error(`README of ${name} installs ${n}, but neither ${name} nor its @var dependencies declare a version of it`);
    deps[n] = range;
  }
  if (!deps[name]) deps[name] = `file:${tarballs.get(name)}`;
  return deps;
}

/** Write the app's package.json: `deps` plus overrides that take every other @var package from its tarball. */
export async function writeApp(app: string, deps: Record<string, string>, tarballs: Map<string, string>): Promise<void> {
  await mkdir(app, { recursive: true });
  const overrides: Record<string, string> = {};
  for (const [n, file] of tarballs) if (!(n in deps)) overrides[n] = `file:${file}`;
  await writeFile(
    join(app, 'package.json'),
    `${JSON.stringify({ name: 'pack-test-app', private: true, type: 'module', dependencies: deps, overrides }, null, 2)}\n`,
  );
}

/** Shared npm cache of the pack tests (kept between runs). */
export function npmCacheDir(): string {
  return process.env.VAR_PACK_TEST_NPM_CACHE ?? join(repoRoot, 'node_modules', '.cache', 'var-pack-test-npm');
}

export async function npmInstall(app: string): Promise<void> {
  await installSlot(() =>
    run(
      'npm',
      ['install', '--cache', npmCacheDir(), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', '--no-update-notifier'],
      {
        cwd: app,
        timeoutMs: 540_000,
      },
    ),
  );
}

/** Every directory name under node_modules (scoped names as @scope/name). */
export function installedPackages(app: string): string[] {
  const nm = join(app, 'node_modules');
  if (!existsSync(nm)) return [];
  const out: string[] = [];
  for (const e of readdirSync(nm)) {
    if (e.startsWith('.')) continue;
    if (e.startsWith('@')) for (const s of readdirSync(join(nm, e))) out.push(`${e}/${s}`);
    else out.push(e);
  }
  return out.sort();
}

/** Run `file` with plain Node in the app; returns stdout. */
export async function runNode(app: string, file: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await cpuSlot(() =>
    run(process.execPath, [file], { cwd: app, env: { VAR_WASM_THREADS: '1', ...env }, timeoutMs: 300_000 }),
  );
  return stdout;
}

/**
 * Type-check `files` (.ts examples, or .mjs ones with checkJs) in the app with the workspace's tsc: strict, NodeNext
 * resolution (so the packages' `exports` → `types` are what is checked), Node's types only.
 */
export async function typecheck(app: string, files: string[]): Promise<void> {
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022'],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: ['node'],
      typeRoots: [join(repoRoot, 'node_modules', '@types')],
      ...(files.some((f) => /\.m?js$/.test(f)) ? { allowJs: true, checkJs: true } : {}),
    },
    files,
  };
  await writeFile(join(app, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
  const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
  await cpuSlot(() => run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: app, timeoutMs: 300_000 }));
}

export async function readText(p: string): Promise<string> {
  return readFile(p, 'utf8');
}
