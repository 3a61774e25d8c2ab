/**
 * SIGKILL at an arbitrary moment, then resume: the run finishes with the same losses and
 * the same weights as an uninterrupted one. Runs the training script (scripts/train.mjs,
 * which uses the built dist of @var/train and its dependencies) in child processes.
 * The second test kills the same run 20 times at seeded random points (inside a step or a
 * checkpoint write) and checks after every kill that the checkpoint on disk is valid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@var/core';
import { loadCheckpoint, readLog } from '../src/index.js';
import { tinyFolder, tmpRunDir } from './helpers.js';
import { tinyFolderDataset, tinyTokenizerModel } from '@var/test-helpers';

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
    model: tinyTokenizerModel(),
    dataset: tinyFolderDataset(folder),
    train: { steps: 8, batchSize: 4, lr: 3e-3, warmupSteps: 2 },
    settings: { logEvery: 1, checkpointEvery: 2, evalEvery: 0 },
    evalSamples: 0,
  };
  await writeFile(config, JSON.stringify(spec));
});

const children = new Set<ChildProcess>();
function run(runDir: string, cfg = config, extra: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [script, cfg, '--run-dir', runDir, ...extra], { cwd: pkg, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}
afterAll(() => {
  for (const c of children) c.kill('SIGKILL'); // a failed or timed-out test leaves no training process behind
});
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
      child.on('exit', () => {
        clearInterval(t);
        reject(new Error('the child finished before it could be killed'));
      });
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
  it('20 SIGKILLs at seeded random points: every kill leaves a valid checkpoint, and the run ends with the same losses and weights', async () => {
    // VAR_KILL_TRIALS / VAR_KILL_STEPS shrink the loop on a slow machine (keep STEPS well above 3·TRIALS: children that finish their 4 steps unkilled use steps too)
    const TRIALS = Number(process.env.VAR_KILL_TRIALS ?? 20);
    const STEPS = Number(process.env.VAR_KILL_STEPS ?? 128); // up to 4 steps per child, killed or not
    const dir = await tmpRunDir();
    const trialSpec = {
      ...spec,
      train: { ...(spec.train as object), steps: STEPS },
      settings: { logEvery: 1, checkpointEvery: 1, evalEvery: 0 },
    };
    const chainCfg = join(dir, 'chain.json');
    const refCfg = join(dir, 'ref.json');
    await writeFile(chainCfg, JSON.stringify(trialSpec));
    // the reference checkpoints only at the end (checkpointEvery is a run setting, not part of the config hash)
    await writeFile(refCfg, JSON.stringify({ ...trialSpec, settings: { logEvery: 1, checkpointEvery: STEPS, evalEvery: 0 } }));
    const a = join(dir, 'ref');
    const b = join(dir, 'killed');
    const reference = exit(run(a, refCfg)); // runs beside the trials
    const trainLog = async () => (await readLog(join(b, 'log.jsonl'))).filter((r) => r.type === 'train');
    const rng = new Rng(20261125);
    const t0 = Date.now();
    let kills = 0;
    let spawns = 0;
    const resumes: number[] = [];
    while (kills < TRIALS) {
      expect(spawns++, 'too many children exited on their own before being killed').toBeLessThan(TRIALS + 10);
      const startStep = (await trainLog()).at(-1)?.step ?? 0;
      expect(startStep, `the run finished after ${kills} kills (raise STEPS)`).toBeLessThan(STEPS);
      // each child stops by itself after 4 steps, so a late kill cannot run past the end; the latest kill
      // point (2 steps + 1.5 step times) lies inside the 4th step, so a child exits unkilled only when its
      // steps run much faster than the ones before (with --stop-after 3, over 10 of 30 did on a loaded machine)
      const child = run(b, chainCfg, ['--stop-after', '4']);
      const done = exit(child);
      // the kill point: 1 or 2 new steps logged, then a random fraction (0 to 1.5) of a step time,
      // so it lands in the forward/backward pass, the optimizer update or the checkpoint write
      const after = 1 + rng.int(2);
      const frac = rng.random() * 1.5;
      const killed = await new Promise<boolean>((resolve) => {
        let finished = false;
        void done.then(() => {
          finished = true;
          resolve(false);
        });
        const poll = async () => {
          if (finished) return;
          const log = await trainLog();
          const fresh = log.filter((r) => (r.step as number) > startStep);
          if (fresh.length >= after) {
            const secs = log.slice(-6).map((r) => r.elapsedSec as number);
            const stepMs = secs.length > 1 ? ((secs.at(-1)! - secs[0]) / (secs.length - 1)) * 1000 : 300;
            setTimeout(() => {
              if (!finished) {
                child.kill('SIGKILL');
                resolve(true);
              }
            }, frac * stepMs);
          } else setTimeout(poll, 10);
        };
        void poll();
      });
      const code = await done;
      if (!killed) {
        expect(code).toBe(0);
        continue;
      }
      kills++;
      // what the next start resumes from must be a valid checkpoint (or none before the first one)
      const ckpt = join(b, 'checkpoint.safetensors');
      if (existsSync(ckpt)) {
        const c = await loadCheckpoint(ckpt);
        expect(c.state.step).toBeGreaterThan(0);
        expect(c.state.step).toBeLessThanOrEqual((await trainLog()).at(-1)!.step as number);
        resumes.push(c.state.step);
      }
    }
    const killSeconds = (Date.now() - t0) / 1000;
    expect(await exit(run(b, chainCfg))).toBe(0);
    expect(await reference).toBe(0);
    const log = await readLog(join(b, 'log.jsonl'));
    // every restart after a checkpoint logged a resume from it
    expect(log.filter((r) => r.type === 'resume').map((r) => r.step)).toEqual(expect.arrayContaining([...new Set(resumes)]));
    const logA = (await readLog(join(a, 'log.jsonl'))).filter((r) => r.type === 'train');
    const logB = log.filter((r) => r.type === 'train');
    expect(logB.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    expect(logB.map((r) => r.loss)).toEqual(logA.map((r) => r.loss));
    expect(await readFile(join(b, 'model.safetensors'))).toEqual(await readFile(join(a, 'model.safetensors')));
    // a kill during a checkpoint write leaves a temporary file; the next start removes it
    expect((await readdir(b)).filter((f) => f.endsWith('.tmp') || f.includes('.tmp-'))).toEqual([]);
    console.log(
      `kill trials: ${kills} kills in ${spawns} starts, ${killSeconds.toFixed(1)} s; resumed from steps ${resumes.join(',')}; total ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
  }, 600_000);
});
