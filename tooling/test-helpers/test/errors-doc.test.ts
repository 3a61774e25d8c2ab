/**
 * docs/errors.md cannot rot: every test it cites (`file › describe › … › it`) must exist, every
 * row of its tables must cite one, and it must have a section for every package and every CLI
 * command. Also checks the title matcher itself on a small source.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/fixtures.js';
import { checkCitation, hasTest, parseTestTitles } from '../src/test-names.js';

/** Every workspace package under packages/ (a new one needs its section too). */
const PACKAGES = readdirSync(join(repoRoot(), 'packages')).filter((d) => existsSync(join(repoRoot(), 'packages', d, 'package.json')));
const COMMANDS = ['generate', 'edit', 'encode', 'decode', 'convert', 'train', 'eval', 'info', 'bench'];

interface Row {
  section: string;
  line: number;
  cells: string[];
  citations: string[];
}

/** The table rows under `### ` headings, with the test names cited in their last cell. */
function tableRows(md: string): Row[] {
  const rows: Row[] = [];
  let section = '';
  const lines = md.split('\n');
  lines.forEach((l, i) => {
    if (l.startsWith('#')) section = /^###\s/.test(l) ? l.replace(/^#+\s*/, '').trim() : '';
    if (!section || !l.startsWith('|')) return;
    if (/^\|[\s|:-]+\|$/.test(l.trim()) || (lines[i + 1] ?? '').trim().startsWith('|---')) return; // separator / header
    const cells = l
      .trim()
      .slice(1, -1)
      .split('|')
      .map((c) => c.trim());
    const last = cells[cells.length - 1] ?? '';
    const citations: string[] = [];
    for (const m of last.matchAll(/``\s(.+?)\s``|`([^`]+)`/g)) {
      const c = (m[1] ?? m[2]).trim();
      if (c.includes(' › ')) citations.push(c);
    }
    rows.push({ section, line: i + 1, cells, citations });
  });
  return rows;
}

describe('docs/errors.md', () => {
  const root = repoRoot();
  const md = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const rows = tableRows(md);

  it('has a section for every package and every CLI command', () => {
    const sections = new Set(rows.map((r) => r.section));
    expect(PACKAGES).toContain('core');
    for (const p of PACKAGES) expect(sections, `### @var/${p}`).toContain(`@var/${p}`);
    for (const c of COMMANDS) expect(sections, `### var ${c}`).toContain(`var ${c}`);
  });

  it('every row names the error (or the outcome) and cites at least one test', () => {
    expect(rows.length).toBeGreaterThan(50);
    for (const r of rows) {
      expect(r.cells.length, `line ${r.line}: three columns`).toBe(3);
      expect(r.cells[1], `line ${r.line}: error column`).toMatch(/Error|exit \d|accepted|reported|not an error/);
      expect(r.citations.length, `line ${r.line} (${r.section}): cites no test`).toBeGreaterThan(0);
    }
  });

  it('every cited test exists', () => {
    const missing = rows.flatMap((r) =>
      r.citations
        .map((c) => checkCitation(root, c))
        .filter((x): x is string => x !== null)
        .map((x) => `line ${r.line}: ${x}`),
    );
    expect(missing).toEqual([]);
  });
});

describe('the test-title matcher', () => {
  const src = [
    "describe('outer', () => {",
    "  it('plain one', () => {});",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: test source text with template titles
    '  describe.skipIf(!x)(`on ${backend}`, () => {',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: test source text with template titles
    '    it(`case ${name}: works`, () => {});',
    '  });',
    "  it.each([1, 2])('each %i', () => {});",
    "  it('it\\'s escaped', () => {});",
    '});',
    "it('top level', () => {});",
  ].join('\n');
  const titles = parseTestTitles(src);

  it('finds nested, template, each and escaped titles', () => {
    expect(hasTest(titles, ['outer', 'plain one'])).toBe(true);
    expect(hasTest(titles, ['outer', 'on cpu', 'case a: works'])).toBe(true);
    expect(hasTest(titles, ['outer', 'each 2'])).toBe(true);
    expect(hasTest(titles, ['outer', "it's escaped"])).toBe(true);
    expect(hasTest(titles, ['top level'])).toBe(true);
  });

  it('rejects names that do not exist or are nested elsewhere', () => {
    expect(hasTest(titles, ['outer', 'plain two'])).toBe(false);
    expect(hasTest(titles, ['outer', 'case a: works'])).toBe(true); // deeper nesting is allowed
    expect(hasTest(titles, ['on cpu', 'plain one'])).toBe(false); // not inside that block
    expect(hasTest(titles, ['outer', 'top level'])).toBe(false); // outside the describe
    expect(hasTest(titles, ['outer'])).toBe(false); // a describe is not a test
    expect(checkCitation(repoRoot(), 'no/such/file.test.ts › a › b')).toMatch(/no such file/);
  });
});
