/**
 * SIGKILL at an arbitrary moment, then resume: the run finishes with the same losses and
 * the same weights as an uninterrupted one. Runs the training script (scripts/train.mjs,
 * which uses the built dist of @var/train and its dependencies) in child processes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { readLog } from '../src/index.js';
import { tinyFolder, tmpRunDir } from './helpers.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(pkg, 'scripts', 'train.mjs');
const built = existsSync(join(pkg, 'dist', 'index.js'));

let config: string;
let spec: Record<string, unknown>;
beforeAll(async () => {
  const folder = await tinyFolder();
  config = join(await tmpRunDir(), 'tiny.json');
  spec = {
    kind: 'tokenizer',
    seed: 5,
    model: { ch: 32, chMult: [1, 1], numResBlocks: 1, vocabSize: 16, zChannels: 4, vPatchNums: [1, 2, 4], inChannels: 1, usingSa: false, usingMidSa: false, shareQuantResi: 1 },
    dataset: { name: 'folder', path: folder, size: 8, channels: 1, heldOutFraction: 0.25 },
    train: { steps: 8, batchSize: 4, lr: 3e-3, warmupSteps: 2 },
    settings: { logEvery: 1, checkpointEvery: 2, evalEvery: 0 },
    evalSamples: 0,
  };
  await writeFile(config, JSON.stringify(spec));
});

function run(runDir: string): ChildProcess {
  return spawn(process.execPath, [script, config, '--run-dir', runDir], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
}
function exit(p: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => p.on('exit', (code) => resolve(code)));
}

describe.skipIf(!built)('kill -9 and resume (child processes; needs `pnpm turbo run build --filter @var/train...`)', () => {
  it('reaches the same final loss and weights as an uninterrupted run', async () => {
    // uninterrupted reference (also a child: the same built code as the killed run)
    const a = await tmpRunDir();
    expect(await exit(run(a))).toBe(0);

    const b = await tmpRunDir();
    const child = run(b);
    // kill as soon as a step past the first checkpoint is logged (mid-run, at no particular point)
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(async () => {
        const steps = (await readLog(join(b, 'log.jsonl'))).filter((r) => r.type === 'train').length;
        if (steps >= 3) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve();
        }
      }, 20);
      child.on('exit', () => { clearInterval(t); reject(new Error('the child finished before it could be killed')); });
    });
    await exit(child);
    const before = (await readLog(join(b, 'log.jsonl'))).filter((r) => r.type === 'train').length;
    expect(before).toBeLessThan(8);
    expect(await exit(run(b))).toBe(0);

    const logA = (await readLog(join(a, 'log.jsonl'))).filter((r) => r.type === 'train');
    const logB = (await readLog(join(b, 'log.jsonl'))).filter((r) => r.type === 'train');
    expect(logB.map((r) => r.step)).toEqual(logA.map((r) => r.step));
    expect(logB.map((r) => r.loss)).toEqual(logA.map((r) => r.loss));
    expect((await readLog(join(b, 'log.jsonl'))).some((r) => r.type === 'resume')).toBe(true);
    expect(await readFile(join(b, 'model.safetensors'))).toEqual(await readFile(join(a, 'model.safetensors')));
  });
});
