/**
 * The README examples of the "Resize ops" and "Seeded RNG" sections run as written.
 * Each ```ts block is written to a temporary module (bare imports rewritten to absolute
 * paths, '@var/core' to this package's source) and imported through vitest's transform.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const pkgRoot = join(here, '..', '..');
const require = createRequire(import.meta.url);
const readme = readFileSync(join(pkgRoot, 'README.md'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const next = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, next < 0 ? undefined : next);
}

function codeBlocks(md: string): string[] {
  return [...md.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

function rewriteImports(code: string): string {
  return code.replace(/from '([^']+)'|import '([^']+)'/g, (_whole, a: string | undefined, b: string | undefined) => {
    const spec = (a ?? b) as string;
    const target = spec === '@var/core' ? join(pkgRoot, 'src', 'index.ts') : require.resolve(spec);
    return a ? `from '${target}'` : `import '${target}'`;
  });
}

const dir = mkdtempSync(join(tmpdir(), 'var-core-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  beforeAll(async () => {
    await import('@tensorflow/tfjs-backend-cpu');
    await tf.setBackend('cpu');
  });
  for (const title of ['Resize ops', 'Seeded RNG']) {
    it(`"${title}" examples run without error or tensor leak`, async () => {
      const blocks = codeBlocks(section(title));
      expect(blocks.length).toBeGreaterThan(0);
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        for (const [i, block] of blocks.entries()) {
          const file = join(dir, `${title.replace(/\W+/g, '-')}-${i}.ts`);
          writeFileSync(file, rewriteImports(block));
          const before = tf.memory().numTensors;
          await import(/* @vite-ignore */ file);
          expect(tf.memory().numTensors).toBe(before);
        }
        // the examples print something checkable
        const printed = log.mock.calls.map((c) => JSON.stringify(c));
        if (title === 'Resize ops') {
          expect(printed).toContain(
            JSON.stringify([
              [1, 8, 16, 16],
              [1, 8, 3, 5],
            ]),
          );
          expect(printed).toContain(JSON.stringify([[1, 8, 3, 3]]));
          expect(printed).toContain(JSON.stringify([48]));
        } else {
          expect(printed[0]).toMatch(/^\[true,\[[1-4],[1-4],[1-4],[1-4]\],2\]$/);
        }
      } finally {
        log.mockRestore();
      }
    });
  }
});
