/**
 * Test helper for the interop tests with the official PyTorch code: PyTorch through Debian's `python3-torch` (installed by `.ci/system-deps.sh`),
 * always `/usr/bin/python3` (not a pyenv `python3` earlier on PATH). Where it is absent the
 * tests that need it skip and say why.
 */
import { spawnSync } from 'node:child_process';
import { runProcess } from './process.js';

export const PYTHON = process.env.VAR_TORCH_PYTHON ?? '/usr/bin/python3';

export type TorchProbe = { ok: true; python: string; version: string } | { ok: false; reason: string };

let probe: TorchProbe | undefined;

/** Whether `import torch` works in {@link PYTHON} (probed once per process). */
export function findTorch(): TorchProbe {
  if (probe) return probe;
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8', timeout: 120_000 });
  if (r.error) probe = { ok: false, reason: `${PYTHON} cannot be run (${r.error.message}); install python3-torch (.ci/system-deps.sh)` };
  else if (r.status !== 0)
    probe = {
      ok: false,
      reason: `${PYTHON} has no torch (${(r.stderr || '').trim().split('\n').pop()}); install python3-torch (.ci/system-deps.sh)`,
    };
  else probe = { ok: true, python: PYTHON, version: r.stdout.trim() };
  if (!probe.ok) console.warn(`[torch tests skipped] ${probe.reason}`);
  return probe;
}

/**
 * Run a Python script with torch; resolves to its stdout, rejects with its stderr when it fails.
 * Asynchronous on purpose: a test worker blocked in a synchronous child process cannot answer
 * vitest's RPC, which times out after 60 s ("Timeout calling onTaskUpdate") on a loaded machine
 * even though every test passes.
 */
export function runPython(
  script: string,
  args: string[],
  opts: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<string> {
  return runProcess(PYTHON, [script, ...args], {
    cwd: opts.cwd,
    timeoutMs: opts.timeoutMs ?? 120_000,
    env: { ...process.env, OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', PYTHONDONTWRITEBYTECODE: '1', ...opts.env },
  }).then((r) => {
    if (r.error) throw new Error(`${PYTHON} ${script}: ${r.error.message}`);
    if (r.status !== 0) throw new Error(`${PYTHON} ${script} ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout;
  });
}
