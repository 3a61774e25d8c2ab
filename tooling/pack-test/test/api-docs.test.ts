/**
 * The API reference (`pnpm docs:api`, TypeDoc → docs/api/, part of `pnpm build`) documents
 * every export of every published package: the names come from each package's built
 * `dist/index.d.ts` (what users import), and each must be a member of the package's module
 * in docs/api/api.json and appear on its HTML page. The reference is regenerated first when
 * it is missing or older than a package source.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED, packageDir, readPackageJson, repoRoot, run } from '../src/harness.js';

const apiDir = join(repoRoot, 'docs', 'api');
const apiJson = join(apiDir, 'api.json');

function newestSource(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (/\.ts$/.test(e.name) && !/\.test\.ts$/.test(e.name)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/** Exported names of a bundled .d.ts, leaving out declarations tagged @internal. */
function dtsExports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const internal = new Set<string>();
  const names = new Set<string>();
  const declName = (s: ts.Statement): string | undefined =>
    (ts.isFunctionDeclaration(s) ||
      ts.isClassDeclaration(s) ||
      ts.isInterfaceDeclaration(s) ||
      ts.isTypeAliasDeclaration(s) ||
      ts.isEnumDeclaration(s)) &&
    s.name
      ? s.name.text
      : undefined;
  for (const s of sf.statements) {
    const isExported = ts.canHaveModifiers(s) && ts.getModifiers(s)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
    const tagged = ts.getJSDocTags(s).some((t) => t.tagName.text === 'internal');
    const n = declName(s);
    const vars = ts.isVariableStatement(s) ? s.declarationList.declarations.map((d) => (ts.isIdentifier(d.name) ? d.name.text : '')) : [];
    for (const name of n ? [n] : vars) {
      if (tagged) internal.add(name);
      if (isExported && name) names.add(name);
    }
    if (ts.isExportDeclaration(s) && s.exportClause && ts.isNamedExports(s.exportClause)) {
      for (const el of s.exportClause.elements) {
        if (!internal.has((el.propertyName ?? el.name).text)) names.add(el.name.text);
      }
    }
  }
  return [...names].filter((n) => !internal.has(n)).sort();
}

interface Reflection {
  name: string;
  kind: number;
  children?: Reflection[];
}

let modules: Map<string, Reflection>;

beforeAll(async () => {
  const stale = !existsSync(apiJson) || PUBLISHED.some((d) => newestSource(join(packageDir(d), 'src')) > statSync(apiJson).mtimeMs);
  if (stale) await run('pnpm', ['run', 'docs:api'], { cwd: repoRoot, timeoutMs: 600_000 });
  const project = JSON.parse(readFileSync(apiJson, 'utf8')) as Reflection;
  modules = new Map((project.children ?? []).map((m) => [m.name, m]));
});

describe('API reference (docs/api)', () => {
  for (const d of PUBLISHED) {
    it(`documents every export of @var/${d}`, async () => {
      const dir = packageDir(d);
      const { name } = readPackageJson(dir);
      const dts = join(dir, 'dist', 'index.d.ts');
      if (!existsSync(dts)) await run('pnpm', ['run', 'build'], { cwd: dir });
      const exported = dtsExports(dts);
      expect(exported.length, `${name} exports something`).toBeGreaterThan(3);
      const mod = modules.get(name);
      expect(mod, `docs/api/api.json has a module named ${name} (modules: ${[...modules.keys()].join(', ')})`).toBeDefined();
      const documented = new Set((mod!.children ?? []).map((c) => c.name));
      expect(
        exported.filter((n) => !documented.has(n)),
        `exports of ${name} missing from the reference`,
      ).toEqual([]);
      const page = join(apiDir, 'modules', `${name.replace(/[@/]/g, '_')}.html`);
      expect(existsSync(page), page).toBe(true);
      const html = readFileSync(page, 'utf8').replace(/<wbr\s*\/?>/g, ''); // TypeDoc breaks long names with <wbr/>
      expect(
        exported.filter((n) => !html.includes(`>${n}<`)),
        `exports of ${name} missing from ${page}`,
      ).toEqual([]);
    });
  }
});
