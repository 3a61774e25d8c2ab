/**
 * The README "Backends" example runs as written (bare imports rewritten to absolute paths,
 * '@var/core' to this package's source) and prints what it promises.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it, vi } from 'vitest';

const pkgRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);
const readme = readFileSync(join(pkgRoot, 'README.md'), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'var-core-backends-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const next = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, next < 0 ? undefined : next);
}

it('README "Backends" example runs and prints the chosen backend and the result', async () => {
  const blocks = [...section('Backends').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  expect(blocks.length).toBeGreaterThan(0);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    for (const [i, block] of blocks.entries()) {
      const code = block.replace(
        /from '([^']+)'/g,
        (_w, spec: string) => `from '${spec === '@var/core' ? join(pkgRoot, 'src', 'index.ts') : require.resolve(spec)}'`,
      );
      const file = join(dir, `backends-${i}.ts`);
      writeFileSync(file, code);
      await import(/* @vite-ignore */ file);
    }
    const calls = log.mock.calls;
    const names = ['cuda', 'webgpu', 'tensorflow', 'wasm', 'cpu'];
    expect(calls.slice(0, 5).map((c) => c[0])).toEqual(names);
    const chosen = calls[5];
    expect(names).toContain(chosen[0]);
    expect(chosen[0]).toBe(tf.getBackend());
    if (chosen[0] === 'wasm') expect(chosen[1]).toBe(2);
    expect(calls[6]).toEqual([true]);
    expect(calls[7]).toEqual([262144]);
    // weightTensor: the (2, 3) official-layout weight transposed into the tensor
    const wt = calls.find((c) => Array.isArray(c[0]) && c[0].join() === '3,2');
    expect(wt, 'the weightTensor example printed its shape').toBeDefined();
    expect(Array.from(wt![1] as Float32Array)).toEqual([1, 4, 2, 5, 3, 6]);
  } finally {
    log.mockRestore();
  }
});
