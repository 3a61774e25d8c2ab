/**
 * Find a vitest test by its full name, `file › describe › … › it`, in the source of a test file,
 * without running it. Used to check that the tests cited by documentation (docs/errors.md) exist.
 *
 * Titles are read from `describe(` / `it(` / `test(` calls (with `.skipIf(…)`, `.runIf(…)`,
 * `.each(…)`, `.only`, `.concurrent` modifiers) whose first argument is a string or template
 * literal. Template placeholders (`${…}`) and `each` formats (`%s`, `%i`, `%d`, …) match any text.
 * A `describe` block spans from its line to the next non-blank line indented no deeper (the
 * repository is formatted, so this is reliable without a parser).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface TestTitle {
  kind: 'describe' | 'test';
  /** The title as written, placeholders included. */
  title: string;
  /** Matches the titles vitest reports for this call. */
  pattern: RegExp;
  /** 0-based line of the call. */
  line: number;
  /** Last line (inclusive) of the block. */
  end: number;
}

const CALL =
  /^(\s*)(describe|it|test)((?:\.(?:skipIf|runIf|each|only|concurrent|sequential|skip|todo|fails)(?:\((?:[^()]|\([^()]*\))*\))?)*)\(\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|`((?:[^`\\]|\\.)*)`)/;

function unescapeTitle(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

function titlePattern(title: string, template: boolean, each: boolean): RegExp {
  const parts = template ? title.split(/\$\{(?:[^{}]|\{[^{}]*\})*\}/) : [title];
  const esc = (s: string) => {
    let e = s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    if (each) e = e.replace(/%[sidfjo#%]/g, (m) => (m === '%%' ? '%' : '.+'));
    return e;
  };
  return new RegExp(`^${parts.map(esc).join('.+')}$`, 's');
}

/** Every describe/it/test title in a test file's source, with its block's line span. */
export function parseTestTitles(source: string): TestTitle[] {
  const lines = source.split('\n');
  const indent = (l: string) => l.length - l.trimStart().length;
  const out: TestTitle[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = CALL.exec(lines[i]);
    if (!m) continue;
    const raw = m[4] ?? m[5] ?? m[6];
    const template = m[6] !== undefined;
    const each = m[3].includes('.each');
    const title = unescapeTitle(raw);
    const ind = m[1].length;
    let end = lines.length - 1;
    for (let j = i + 1; j < lines.length; j++) {
      if (lines[j].trim() === '') continue;
      if (indent(lines[j]) <= ind) {
        end = j;
        break;
      }
    }
    out.push({ kind: m[2] === 'describe' ? 'describe' : 'test', title, pattern: titlePattern(title, template, each), line: i, end });
  }
  return out;
}

/** Split `file › a › b` into the file and the titles. */
export function splitCitation(citation: string): { file: string; names: string[] } {
  const [file, ...names] = citation.split(' › ').map((s) => s.trim());
  return { file, names };
}

/**
 * Whether `names` (outermost first; the last one a test) exists in `titles`, each name nested
 * inside the block of the one before it. Names are matched literally against literal titles and
 * as instances of template / `each` titles.
 */
export function hasTest(titles: TestTitle[], names: string[]): boolean {
  const walk = (from: number, to: number, k: number): boolean => {
    const last = k === names.length - 1;
    for (const t of titles) {
      if (t.line < from || t.line > to) continue;
      if (last ? t.kind !== 'test' : t.kind !== 'describe') continue;
      if (t.title !== names[k] && !t.pattern.test(names[k])) continue;
      if (last || walk(t.line + 1, t.end, k + 1)) return true;
    }
    return false;
  };
  return names.length > 0 && walk(0, Number.MAX_SAFE_INTEGER, 0);
}

/** Check a citation `file › … › it` against the file under `root`; returns null when found, else why not. */
export function checkCitation(root: string, citation: string): string | null {
  const { file, names } = splitCitation(citation);
  let source: string;
  try {
    source = readFileSync(resolve(root, file), 'utf8');
  } catch {
    return `${file}: no such file`;
  }
  if (names.length === 0) return `${citation}: no test name after the file`;
  return hasTest(parseTestTitles(source), names) ? null : `${citation}: no such test in ${file}`;
}
