/**
 * Child process of `var bench --generate` (one case, or the WebGPU probe, per process):
 *   node dist/bench-child.js '<ChildSpec JSON>' | '<LoadSpec JSON>' | probe
 * Prints one line `@@var-bench <JSON>` with the result (or `@@var-bench-error <message>` and
 * exit code 1). Everything else on stdout/stderr is diagnostics.
 */
import { probe, runCase, runLoad } from './bench/generate-cases.js';
import { ERROR_PREFIX, RESULT_PREFIX, type ChildSpec, type LoadSpec } from './bench/generate-report.js';

// Exit explicitly once the line is written: wasm's pthread workers and Dawn keep the event loop alive.
const finish = (line: string, code: number) => process.stdout.write(`\n${line}\n`, () => process.exit(code));
try {
  const arg = process.argv[2] ?? '';
  const spec = arg === 'probe' ? null : (JSON.parse(arg) as ChildSpec | LoadSpec);
  const out = !spec ? await probe() : 'kind' in spec && spec.kind === 'load' ? await runLoad(spec) : await runCase(spec as ChildSpec);
  finish(`${RESULT_PREFIX}${JSON.stringify(out)}`, 0);
} catch (e) {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  if (e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  finish(`${ERROR_PREFIX}${msg.replace(/\n/g, ' ')}`, 1);
}
