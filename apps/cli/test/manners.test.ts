/**
 * The command line's manners, on the built bin in a child process: output piped into `head`
 * (stdout closed early) ends quietly with exit 0 and no EPIPE stack; help goes to stdout, usage
 * errors to stderr as one line with exit 2; probing backends prints nothing from the native layers
 * (Dawn's "Couldn't load Vulkan" warning) while `var info` still says why WebGPU is unavailable.
 * Needs the built bin (`pnpm turbo run build --filter @var/cli...`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkVulkanLoader } from '@var/core';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'dist', 'bin.js');
const built = existsSync(BIN);
const tmp = mkdtempSync(join(tmpdir(), 'var-cli-manners-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run the bin; with `closeAfter`, destroy our end of its stdout after that many bytes (what `head -c` does). */
function runBin(args: string[], closeAfter?: number): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp,
      env: { ...process.env, CI: '1', VAR_WASM_THREADS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (closeAfter !== undefined && stdout.length >= closeAfter) child.stdout.destroy();
    });
    child.stderr.on('data', (d) => void (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const NATIVE_NOISE = /Couldn't load Vulkan|BackendVk\.cpp|EPIPE|at operator\(\)|node:internal/;
/** Dawn's notes about lavapipe's limits, printed by the native layer when an adapter is enumerated. */
const DAWN_ADAPTER_NOTE =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;

describe.skipIf(!built)('var on a pipe, help and errors (the built bin)', () => {
  it('var info piped into head -c 20: exit 0, no error output (only Dawn adapter notes, where Vulkan exists)', async () => {
    const r = await runBin(['info'], 20);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(NATIVE_NOISE);
    // With a Vulkan driver (lavapipe in CI), Dawn writes two notes to the native stderr while it
    // enumerates the adapter ("… artificially reduced from 1000000 to 16 …"); nothing else may appear.
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    expect(lines.filter((l) => !DAWN_ADAPTER_NOTE.test(l))).toEqual([]);
    if (!(await checkVulkanLoader()).found) expect(r.stderr).toBe('');
  });

  it('var --help and var generate --help piped into head -c 10: exit 0, quiet', async () => {
    for (const args of [['--help'], ['generate', '--help']]) {
      const r = await runBin(args, 10);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
    }
  });

  it('generate piped into head -1: stops early, exit 0, no stack, only complete files', async () => {
    const out = join(tmp, 'gen');
    const count = 200;
    const r = await runBin(
      [
        'generate',
        '--model',
        'mnist',
        '--class',
        '3',
        '--count',
        String(count),
        '--batch',
        '1',
        '--seed',
        '1',
        '--out',
        out,
        '--backend',
        'wasm',
        '--threads',
        '1',
      ],
      1,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(NATIVE_NOISE);
    expect(r.stderr).not.toMatch(/error/);
    const files = readdirSync(out);
    expect(files.filter((f) => f.startsWith('.') || f.includes('.tmp'))).toEqual([]);
    expect(files.length).toBeLessThan(count); // it stopped instead of generating all 200
  });

  it('help goes to stdout; a missing command or a bad option is a usage error on stderr (exit 2)', async () => {
    const help = await runBin(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: var/);
    expect(help.stderr).toBe('');
    const sub = await runBin(['help', 'generate']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toMatch(/^Usage: var generate/);
    const none = await runBin([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/Usage: var/);
    const bad = await runBin(['--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^var: error: unknown option '--bogus'/)]);
    const badValue = await runBin(['generate', '--count', 'x']);
    expect(badValue.code).toBe(2);
    expect(badValue.stdout).toBe('');
    expect(badValue.stderr).toMatch(/^var: error: --count must be an integer/);
  });

  it('var info probes every backend without native output and explains a missing WebGPU', async () => {
    const r = await runBin(['info']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(NATIVE_NOISE);
    const line = r.stdout.split('\n').find((l) => /^\s*webgpu\s/.test(l));
    expect(line, r.stdout).toBeTruthy();
    if (/unavailable/.test(line!)) expect(line!.replace(/^\s*webgpu\s+unavailable\s*/, '').length).toBeGreaterThan(20);
    const vk = await checkVulkanLoader();
    if (!vk.found) expect(line).toMatch(/unavailable\s+Dawn needs the Vulkan loader libvulkan\.so\.1/);
    // a command with the default backend (auto probes WebGPU first) prints only its results
    const gen = await runBin(['generate', '--class', '3', '--count', '1', '--seed', '1', '--out', join(tmp, 'auto')]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(gen.stdout + gen.stderr).not.toMatch(NATIVE_NOISE);
    expect(
      gen.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/[\\/]/).pop()),
    ).toEqual(['0000-3.png', 'grid.png']);
  });
});
