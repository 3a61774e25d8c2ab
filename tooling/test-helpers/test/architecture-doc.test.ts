/**
 * ARCHITECTURE.md stays true: every repository path it names exists, every `name` it places
 * "in `path`" occurs in that file, and every @var package it names is a workspace package.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/fixtures.js';

const root = repoRoot();
const md = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
const PATH = /`((?:packages|apps|tooling|examples|experiments|docs)\/[^`\s]+)`/g;

describe('ARCHITECTURE.md', () => {
  it('names only paths that exist', () => {
    const missing = [...md.matchAll(PATH)].map((m) => m[1]).filter((p) => !existsSync(join(root, p)));
    expect(missing).toEqual([]);
  });

  it('every `symbol` placed "in `file`" is in that file (bare file names: the last named folder)', () => {
    const bad: string[] = [];
    for (const line of md.split('\n')) {
      let dir = '';
      // segments like "`a`, `b` in `packages/x/src/y.ts`; … in `z.ts`"
      for (const seg of line.matchAll(
        /((?:`[A-Za-z_$][\w$]*`(?:\s*(?:,|and)\s*)?)+)(?:\s*\([^)]*\))?\s+(?:and the block\s+)?in\s+`([^`]+)`/g,
      )) {
        let file = seg[2];
        if (file.includes('/')) dir = file.slice(0, file.lastIndexOf('/') + 1);
        else file = dir + file;
        if (!existsSync(join(root, file))) {
          bad.push(`${file} (missing)`);
          continue;
        }
        const text = readFileSync(join(root, file), 'utf8');
        for (const sym of seg[1].matchAll(/`([^`]+)`/g)) if (!text.includes(sym[1])) bad.push(`${sym[1]} not in ${file}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('names every published package, and only workspace packages', () => {
    const dirs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));
    const names = dirs.map((d) => JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8')).name as string);
    const named = new Set([...md.matchAll(/@var\/[a-z-]+/g)].map((m) => m[0]));
    for (const n of names) expect(named, `${n} is described`).toContain(n);
    for (const n of named) expect(names, `${n} exists`).toContain(n);
  });
});
