/**
 * Scripts parse their arguments with `parseArgs` of `node:util` and answer `--help`: every
 * script of experiments/, packages/<pkg>/scripts/ and packages/<pkg>/bench/ that reads its
 * command line (a shebang, `process.argv` or `parseArgs`) runs with `--help`, exits 0 and
 * prints a usage line, and none parses `process.argv` by hand (indexOf / includes / slice).
 * Studies and one-offs live in the private experiments/ package, not in published packages.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/fixtures.js';

const root = repoRoot();
const run = promisify(execFile);

function filesIn(dir: string, recurse = false): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return recurse && e.name !== 'node_modules' && e.name !== 'test' ? filesIn(p, true) : [];
    return /\.(mjs|js|sh)$/.test(e.name) ? [p] : [];
  });
}

const dirs = [
  join(root, 'experiments'),
  ...readdirSync(join(root, 'packages')).flatMap((p) => [join(root, 'packages', p, 'scripts'), join(root, 'packages', p, 'bench')]),
];
const candidates = dirs.flatMap((d) => filesIn(d, true));
/** Scripts that read a command line (modules imported by other scripts are left out). */
const scripts = candidates.filter((f) => {
  const text = readFileSync(f, 'utf8');
  return text.startsWith('#!') || /process\.argv/.test(text) || (/parseArgs\(/.test(text) && !/^export /m.test(text));
});

describe('scripts', () => {
  it('finds the scripts', () => {
    const names = scripts.map((f) => relative(root, f));
    expect(names).toEqual(
      expect.arrayContaining([
        'experiments/scaling.mjs',
        'experiments/quality.mjs',
        'packages/train/scripts/train.mjs',
        'experiments/train-model.sh',
      ]),
    );
  });

  it('no published package keeps a study: the studies and shipped-model tooling are in experiments/', () => {
    for (const f of [
      'scaling.mjs',
      'raster-vs-var.mjs',
      'quality.mjs',
      'export-model.mjs',
      'train-model.sh',
      'soak.mjs',
      'cards-table.mjs',
      'bench-var.mjs',
    ]) {
      expect(existsSync(join(root, 'experiments', f)), `experiments/${f}`).toBe(true);
      for (const p of readdirSync(join(root, 'packages')))
        expect(existsSync(join(root, 'packages', p, 'scripts', f)), `packages/${p}/scripts/${f}`).toBe(false);
    }
    const pkg = JSON.parse(readFileSync(join(root, 'experiments', 'package.json'), 'utf8')) as { private?: boolean };
    expect(pkg.private).toBe(true);
    expect(readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8')).toMatch(/^\s*-\s*experiments\s*$/m);
  });

  it('none parses process.argv by hand', () => {
    const handParsed = scripts.filter((f) =>
      /process\.argv\.(indexOf|includes)\(|\b(args|argv)\.(indexOf|includes|find|filter)\(/.test(readFileSync(f, 'utf8')),
    );
    expect(handParsed.map((f) => relative(root, f))).toEqual([]);
  });

  for (const f of scripts) {
    it(`${relative(root, f)} --help prints its usage and exits 0`, async () => {
      const [cmd, args] = f.endsWith('.sh') ? ['bash', [f, '--help']] : [process.execPath, [f, '--help']];
      const { stdout } = await run(cmd, args, { cwd: root, timeout: 60_000, env: { ...process.env, VAR_WASM_THREADS: '1' } });
      expect(stdout).toMatch(/usage:/i);
    });
  }
});
