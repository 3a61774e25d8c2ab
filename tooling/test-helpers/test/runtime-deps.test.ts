/**
 * Runtime dependencies only for what runtime code imports: for every published package
 * (packages/* not marked private), the bare packages imported by `src/**` (not `*.test.ts`)
 * are exactly covered by `dependencies` + `peerDependencies`:
 * - every imported package (static, dynamic, `export … from`, `require`, type-only — a
 *   type in the published .d.ts needs the package too) is a dependency or a peer;
 * - every dependency is imported (or resolved at run time, `require.resolve('pkg/…')`, as
 *   @var/datasets finds the emoji files); the rest belongs in devDependencies.
 * Node built-ins and relative paths are left out. Also checks the scanner on a small source.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/fixtures.js';

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(packageOf(spec));

/** The bare packages a source file imports or resolves (relative paths and Node built-ins left out). */
function importedPackages(source: string): Set<string> {
  const specs = ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
  // createRequire(import.meta.url).resolve('pkg/file'), require.resolve('pkg'): a run-time use of the package's files
  for (const m of source.matchAll(/\bresolve\(\s*['"]([^'"./][^'"]*)['"]\s*\)/g)) specs.push(m[1]);
  return new Set(specs.filter((s) => !s.startsWith('.') && !s.startsWith('/') && !isBuiltin(s)).map(packageOf));
}

function runtimeSources(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return runtimeSources(p);
    return /\.(ts|tsx|mts|js|mjs)$/.test(e.name) && !/\.test\.[mc]?[jt]sx?$/.test(e.name) ? [p] : [];
  });
}

interface Manifest {
  name: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

const root = repoRoot();
const published = readdirSync(join(root, 'packages'))
  .filter((d) => existsSync(join(root, 'packages', d, 'package.json')))
  .map((d) => ({ dir: d, pkg: JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')) as Manifest }))
  .filter((p) => !p.pkg.private);

describe('runtime dependencies of the published packages', () => {
  it('finds the published packages', () => {
    expect(published.map((p) => p.pkg.name)).toEqual(expect.arrayContaining(['@var/core', '@var/data', '@var/sampling', '@var/train']));
  });

  for (const { dir, pkg } of published) {
    it(`${pkg.name}: dependencies + peers cover src/'s imports, and every dependency is imported`, () => {
      const files = runtimeSources(join(root, 'packages', dir, 'src'));
      expect(files.length, `${pkg.name} has sources`).toBeGreaterThan(0);
      const importedBy = new Map<string, string>();
      for (const f of files) {
        for (const p of importedPackages(readFileSync(f, 'utf8'))) if (!importedBy.has(p)) importedBy.set(p, f.slice(root.length + 1));
      }
      importedBy.delete(pkg.name);
      const deps = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies });
      const declared = new Set([...deps, ...Object.keys(pkg.peerDependencies ?? {})]);
      const undeclared = [...importedBy].filter(([p]) => !declared.has(p)).map(([p, f]) => `${p} (imported by ${f})`);
      expect(
        undeclared,
        `${pkg.name}: imported by src/ but neither a dependency nor a peer — add them to dependencies (or peerDependencies)`,
      ).toEqual([]);
      const unused = deps.filter((d) => !importedBy.has(d));
      expect(unused, `${pkg.name}: dependencies that no file of src/ imports — move them to devDependencies or remove them`).toEqual([]);
    });
  }
});

describe('the import scanner', () => {
  it('sees every import form, and leaves out built-ins, relative paths and comments', () => {
    const src = `
      import a from 'pkg-a';
      import { b } from '@scope/b/sub/path.js';
      import type { C } from 'pkg-c';
      export { d } from 'pkg-d';
      export * from '../src/local.js';
      import 'side-effect';
      const e = await import('pkg-e');
      const f = require('pkg-f');
      const g = createRequire(import.meta.url).resolve('pkg-g/package.json');
      import { readFile } from 'node:fs/promises';
      import path from 'path';
      // import x from 'in-a-comment';
      const s = "from 'in-a-string'";
    `;
    expect([...importedPackages(src)].sort()).toEqual(['@scope/b', 'pkg-a', 'pkg-c', 'pkg-d', 'pkg-e', 'pkg-f', 'pkg-g', 'side-effect']);
  });
});
