/**
 * A child process run to its end without blocking the test worker's event loop (the
 * asynchronous counterpart of `spawnSync` for tests): vitest's worker answers its runner over an
 * RPC channel with a fixed 60 s timeout, so a test that waits in `spawnSync` / `execFileSync` for
 * a slow child (a CLI run, the official PyTorch code) fails the whole run with "Timeout calling
 * onTaskUpdate" on a loaded machine, though every test passed.
 */
import { spawn } from 'node:child_process';

export interface ProcessResult {
  /** Exit code (null when killed by a signal). */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Set when the process could not be started, or was killed at `timeoutMs`. */
  error?: Error;
}

export interface ProcessOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill it (SIGKILL) after this many ms; default none. */
  timeoutMs?: number;
  /** Written to its stdin, which is then closed (default: stdin is closed at once). */
  input?: string;
}

/** Run `cmd args` to its end; resolves with its exit status and output (never rejects). */
export function runProcess(cmd: string, args: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let error: Error | undefined;
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      error = e;
    });
    const timer =
      opts.timeoutMs !== undefined
        ? setTimeout(() => {
            error = new Error(`timed out after ${opts.timeoutMs} ms`);
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
    child.stdin.on('error', () => {}); // a child that exits without reading its stdin
    child.stdin.end(opts.input ?? '');
    child.on('close', (status, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(error ? { error } : {}),
      });
    });
  });
}
