/**
 * Changesets: copy the workspace's manifests and `.changeset/` (the working tree, so pending
 * changesets not committed yet count) into a temporary directory, run `pnpm changeset version`
 * there, and check that every package is bumped as its pending changesets say, dependents get
 * at most a patch bump, CHANGELOG.md files carry the summaries, and the changesets are
 * consumed — while the real checkout stays untouched.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readPackageJson, repoRoot, run, type PackageJson } from '../src/harness.js';

type Bump = 'patch' | 'minor' | 'major';
const order: Bump[] = ['patch', 'minor', 'major'];

function inc(v: string, b: Bump): string {
  const [maj, min, pat] = v.split('-')[0].split('.').map(Number);
  if (b === 'major') return `${maj + 1}.0.0`;
  if (b === 'minor') return `${maj}.${min + 1}.0`;
  return `${maj}.${min}.${pat + 1}`;
}

/** Workspace package directories (relative), from pnpm-workspace.yaml's `dir/*` globs and plain `dir` entries. */
function workspaceDirs(): string[] {
  const yaml = readFileSync(join(repoRoot, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...yaml.matchAll(/^\s*-\s*['"]?([\w./-]+)\/\*['"]?\s*$/gm)].map((m) => m[1]);
  const plain = [...yaml.matchAll(/^\s*-\s*['"]?([\w.-][\w./-]*[\w-])['"]?\s*$/gm)].map((m) => m[1]);
  const dirs: string[] = plain.filter((d) => existsSync(join(repoRoot, d, 'package.json')));
  for (const g of globs) {
    for (const e of readdirSync(join(repoRoot, g), { withFileTypes: true })) {
      if (e.isDirectory() && existsSync(join(repoRoot, g, e.name, 'package.json'))) dirs.push(`${g}/${e.name}`);
    }
  }
  return dirs.sort();
}

interface Changeset {
  file: string;
  releases: Map<string, Bump>;
  summary: string;
}

function pendingChangesets(dir: string): Changeset[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .map((file) => {
      const text = readFileSync(join(dir, file), 'utf8');
      const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
      if (!m) throw new Error(`.changeset/${file} has no frontmatter`);
      const releases = new Map<string, Bump>();
      for (const line of m[1].split('\n')) {
        const r = /^\s*["']?([^"':]+)["']?\s*:\s*(patch|minor|major)\s*$/.exec(line);
        if (r) releases.set(r[1], r[2] as Bump);
      }
      return { file, releases, summary: m[2].trim() };
    });
}

/** A digest of every file the test must not change in the real checkout. */
function realStateDigest(dirs: string[]): string {
  const h = createHash('sha256');
  const files = ['package.json', ...readdirSync(join(repoRoot, '.changeset')).map((f) => `.changeset/${f}`)];
  for (const d of dirs) files.push(`${d}/package.json`, `${d}/CHANGELOG.md`);
  for (const f of files.sort()) {
    const p = join(repoRoot, f);
    h.update(`${f}\0${existsSync(p) ? readFileSync(p, 'utf8') : '(absent)'}\0`);
  }
  return h.digest('hex');
}

let tmp: string | undefined;
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

it('pnpm changeset version, run in a copy, bumps versions per the pending changesets and writes changelogs', async () => {
  const dirs = workspaceDirs();
  const before = realStateDigest(dirs);
  const changesets = pendingChangesets(join(repoRoot, '.changeset'));

  tmp = await mkdtemp(join(tmpdir(), 'var-changesets-'));
  for (const f of ['package.json', 'pnpm-workspace.yaml']) await cp(join(repoRoot, f), join(tmp, f));
  await cp(join(repoRoot, '.changeset'), join(tmp, '.changeset'), { recursive: true });
  const old = new Map<string, { dir: string; pkg: PackageJson }>();
  for (const d of dirs) {
    await mkdir(join(tmp, d), { recursive: true });
    for (const f of ['package.json', 'CHANGELOG.md']) if (existsSync(join(repoRoot, d, f))) await cp(join(repoRoot, d, f), join(tmp, d, f));
    const pkg = readPackageJson(join(repoRoot, d));
    old.set(pkg.name, { dir: d, pkg });
  }
  // the changesets CLI and its changelog generator come from the workspace's node_modules
  await symlink(join(repoRoot, 'node_modules'), join(tmp, 'node_modules'), 'dir');
  // a repository of its own, so the CLI's git look-ups (commit of each changeset) see the copy only
  const git = (...a: string[]) =>
    run('git', a, {
      cwd: tmp!,
      env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    });
  await git('init', '-q');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'copy');

  await run('pnpm', ['changeset', 'version'], { cwd: tmp, timeoutMs: 300_000 });

  // expected bumps: the highest bump each package gets from a changeset
  const declared = new Map<string, Bump>();
  for (const c of changesets) {
    for (const [name, b] of c.releases) {
      expect(old.has(name), `.changeset/${c.file} names ${name}, which is not a workspace package`).toBe(true);
      const prev = declared.get(name);
      if (!prev || order.indexOf(b) > order.indexOf(prev)) declared.set(name, b);
    }
  }
  const bumped = new Set<string>();
  for (const [name, { dir, pkg }] of old) {
    const now = readPackageJson(join(tmp, dir));
    if (now.version !== pkg.version) bumped.add(name);
  }
  for (const [name, { dir, pkg }] of old) {
    const now = readPackageJson(join(tmp, dir));
    const b = declared.get(name);
    if (b) {
      expect(now.version, `${name}: ${pkg.version} + ${b}`).toBe(inc(pkg.version, b));
    } else if (now.version !== pkg.version) {
      // dependents of bumped packages get a patch bump (updateInternalDependencies: patch)
      expect(now.version, `${name} was bumped without a changeset`).toBe(inc(pkg.version, 'patch'));
      const deps = Object.keys({ ...pkg.dependencies, ...pkg.peerDependencies, ...pkg.devDependencies });
      expect(
        deps.some((dep) => bumped.has(dep)),
        `${name} was bumped but depends on no bumped package`,
      ).toBe(true);
    }
    if (now.version !== pkg.version) {
      const changelog = join(tmp, dir, 'CHANGELOG.md');
      expect(existsSync(changelog), `${name} has a CHANGELOG.md`).toBe(true);
      const text = readFileSync(changelog, 'utf8');
      expect(text.startsWith(`# ${name}\n`), `${name} CHANGELOG title`).toBe(true);
      expect(text).toContain(`## ${now.version}\n`);
      for (const c of changesets.filter((x) => x.releases.has(name))) {
        expect(text, `${name} CHANGELOG has the summary of ${c.file}`).toContain(c.summary.split('\n')[0].slice(0, 80));
      }
    }
  }
  if (declared.size > 0) expect(bumped.size).toBeGreaterThan(0);
  // the changesets were consumed (only README.md and config.json are left)
  expect(readdirSync(join(tmp, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md')).toEqual([]);
  // and the real checkout is untouched
  expect(realStateDigest(dirs)).toBe(before);
});
