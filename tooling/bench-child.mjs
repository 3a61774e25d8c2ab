/**
 * One measurement of a bench script in a child process (TensorFlow.js initialises a backend once
 * per process, so every thread count or backend gets its own): runs `node script ...args`
 * synchronously and parses the last line of its stdout that starts with `{` as the result.
 *
 * @param {string} script the script's path (usually `fileURLToPath(import.meta.url)`)
 * @param {string[]} args its arguments
 * @param {import('node:child_process').SpawnSyncOptions} [options] spawnSync options (utf8 output always)
 * @returns {{ status: number | null, stdout: string, stderr: string, result: any }} `result` is undefined when no JSON line came
 */
import { spawnSync } from 'node:child_process';

export function runBenchChild(script, args, options = {}) {
  const r = spawnSync(process.execPath, [script, ...args], { ...options, encoding: 'utf8' });
  const stdout = r.stdout ?? '';
  const line = stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  return { status: r.status, stdout, stderr: r.stderr ?? '', result: line ? JSON.parse(line) : undefined };
}
