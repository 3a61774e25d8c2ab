#!/usr/bin/env node
// Runs every package's, app's, tooling's and example's vitest suite in one vitest process
// (root vitest.config.ts lists the projects: packages/*, apps/*, tooling/*, examples/*), then
// prints the plain closing line CI reads: "N passed, N failed".
// Extra arguments are passed to vitest (e.g. a path filter).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(root, 'test-results');
const out = join(outDir, 'vitest.json');
mkdirSync(outDir, { recursive: true });
if (existsSync(out)) rmSync(out);

// Parallel test files already use both cores; threaded wasm inside each would oversubscribe them.
const env = { ...process.env, VAR_WASM_THREADS: process.env.VAR_WASM_THREADS ?? '1' };
const args = ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)];
const r = spawnSync('pnpm', args, { cwd: root, stdio: 'inherit', env });

let passed = 0;
let failed = 0;
let skipped = 0;
if (existsSync(out)) {
  const rep = JSON.parse(readFileSync(out, 'utf8'));
  passed = rep.numPassedTests ?? 0;
  failed = rep.numFailedTests ?? 0;
  skipped = (rep.numPendingTests ?? 0) + (rep.numTodoTests ?? 0);
  // A test file that fails to load has no failing test but is a failure.
  for (const f of rep.testResults ?? []) {
    const anyFailed = (f.assertionResults ?? []).some((a) => a.status === 'failed');
    if (f.status === 'failed' && !anyFailed) failed += 1;
  }
} else {
  failed += 1;
}
const code = r.status !== 0 || failed > 0 ? 1 : 0;
if (code !== 0 && failed === 0) failed = 1; // vitest itself failed (config error, crash)
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(code);
