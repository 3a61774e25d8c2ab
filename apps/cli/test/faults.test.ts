/**
 * Ctrl-C (SIGINT) during a long command of the built bin, in a child process: the command stops
 * with exit code 130 and the output location holds only complete files — no temporary file, no
 * half-written image or checkpoint. Needs the built bin (`pnpm turbo run build --filter @var/cli...`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage, encodePng } from '@var/data';
import { saveModel } from '@var/models';
import { loadCheckpoint, readLog } from '@var/train';
import { VQVAE, fromOfficialConfig as vqvaeConfig } from '@var/tokenizer';
import { VAR, fromOfficialConfig as varConfig } from '@var/transformer';
import { initBackend } from '@var/core';
import { loadFixtureCase, tinyFolderDataset, tinyTokenizerModel } from '@var/test-helpers';

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'dist', 'bin.js');
const built = existsSync(BIN);
const fc = loadFixtureCase();
const BACKEND = ['--backend', 'wasm', '--threads', '1'];

let tmp: string;
let modelDir: string;
let size: number;

beforeAll(async () => {
  if (!built) return;
  await initBackend('wasm', { threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'var-cli-faults-'));
  modelDir = join(tmp, 'tiny');
  const vae = VQVAE.create(vqvaeConfig(fc.config.VQVAE), { seed: 3 });
  const model = VAR.create(varConfig(fc.config.VAR, fc.config.VQVAE), { seed: 4 });
  size = vae.imageSize;
  await saveModel(modelDir, {
    vae,
    var: model,
    card: {
      id: 'tiny',
      name: 'tiny random model',
      dataset: { name: 'none' },
      classNames: Array.from({ length: fc.config.VAR.num_classes as number }, (_, i) => `c${i}`),
    },
  });
  vae.dispose();
  model.dispose();
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Run the bin; send SIGINT once `ready(stdout)` holds; resolve with the exit code and output. */
function interrupt(
  args: string[],
  ready: (stdout: string) => boolean | Promise<boolean>,
): Promise<{ code: number | null; stdout: string; stderr: string; interrupted: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp,
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.on('data', (d) => void (stdout += d));
    child.stderr.on('data', (d) => void (stderr += d));
    const t = setInterval(async () => {
      if (!interrupted && (await ready(stdout))) {
        interrupted = true;
        child.kill('SIGINT');
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(t);
      resolve({ code, stdout, stderr, interrupted });
    });
  });
}

const tempFiles = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('.') || f.includes('.tmp'));

describe.skipIf(!built)('SIGINT (the built bin in a child process)', () => {
  it('during var generate of many images: exit 130, only complete PNGs, no temporary file, no grid', async () => {
    const out = join(tmp, 'gen');
    const count = 200;
    const r = await interrupt(
      ['generate', '--model', modelDir, '--class', '0', '--count', String(count), '--batch', '1', '--seed', '3', '--out', out, ...BACKEND],
      (s) => s.split('\n').filter(Boolean).length >= 2,
    );
    expect(r.interrupted, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/interrupted; no partial output files were left/);
    const files = readdirSync(out).sort();
    expect(tempFiles(out)).toEqual([]);
    expect(files).not.toContain('grid.png');
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(files.length).toBeLessThan(count);
    // every file printed is there, and every file there decodes to a full image
    for (const line of r.stdout.split('\n').filter(Boolean)) expect(files).toContain(line.split(/[/\\]/).pop());
    for (const f of files) {
      expect(f).toMatch(/^\d{4}-.+\.png$/);
      const im = decodeImage(new Uint8Array(readFileSync(join(out, f))));
      expect([im.width, im.height]).toEqual([size, size]);
    }
  });

  it('during var train tokenizer: exit 130, the run dir holds a loadable checkpoint and no temporary file', async () => {
    const folder = join(tmp, 'images');
    for (const [ci, cls] of ['a', 'b'].entries()) {
      mkdirSync(join(folder, cls), { recursive: true });
      for (let k = 0; k < 8; k++) {
        const data = new Uint8Array(64).map((_, i) => ((ci === 0 ? i % 8 < 4 : i < 32) ? 200 : 40) + ((i * 7 + k * 13) % 30));
        writeFileSync(join(folder, cls, `${k}.png`), encodePng({ width: 8, height: 8, channels: 1, data }));
      }
    }
    const cfg = {
      model: tinyTokenizerModel(),
      dataset: tinyFolderDataset(folder),
      train: { steps: 500, batchSize: 4 },
      settings: { logEvery: 1, checkpointEvery: 1, evalEvery: 0 },
      evalSamples: 0,
    };
    const runDir = join(tmp, 'run');
    const steps = async () => (await readLog(join(runDir, 'log.jsonl'))).filter((x) => x.type === 'train').length;
    const r = await interrupt(
      ['train', 'tokenizer', '--run-dir', runDir, '--config', JSON.stringify(cfg), ...BACKEND],
      async () => (await steps()) >= 3,
    );
    expect(r.interrupted, r.stderr).toBe(true);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/a checkpoint was written/);
    expect(tempFiles(runDir)).toEqual([]);
    expect(readdirSync(runDir).sort()).toEqual(['checkpoint.safetensors', 'config.json', 'log.jsonl']);
    const ckpt = await loadCheckpoint(join(runDir, 'checkpoint.safetensors'));
    expect(ckpt.state.step).toBe(await steps());
    expect(ckpt.state.step).toBeLessThan(500);
  }, 400_000); // a child process that imports @var/train
});
