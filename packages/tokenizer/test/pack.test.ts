/**
 * @var/tokenizer installs alone: pack it with its workspace dependencies (@var/core,
 * @var/checkpoint), install the three tarballs with npm into an empty directory, link
 * the tfjs peers of this workspace, and run the README example there with plain Node.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const packagesDir = join(pkgDir, '..');
const tmp = mkdtempSync(join(tmpdir(), 'var-tokenizer-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

describe('pack and install @var/tokenizer alone', () => {
  it('the README example runs from the installed tarballs in plain Node', () => {
    const packDir = join(tmp, 'pack');
    mkdirSync(packDir);
    const tarballs: string[] = [];
    for (const name of ['core', 'checkpoint', 'tokenizer']) {
      const dir = join(packagesDir, name);
      if (!existsSync(join(dir, 'dist', 'index.js'))) run('pnpm', ['run', 'build'], dir);
      const before = new Set(readdirSync(packDir));
      run('pnpm', ['pack', '--pack-destination', packDir], dir);
      const tgz = readdirSync(packDir).find((f) => f.endsWith('.tgz') && !before.has(f));
      expect(tgz, `tarball of @var/${name}`).toBeDefined();
      tarballs.push(join(packDir, tgz!));
    }
    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    // peers are linked from this workspace below (one copy of tfjs-core), not installed
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--legacy-peer-deps', ...tarballs], app);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', '@var', 'tokenizer', 'package.json'), 'utf8'));
    expect(installed.dependencies['@var/core']).not.toMatch(/workspace/);
    const tfDir = join(app, 'node_modules', '@tensorflow');
    mkdirSync(tfDir, { recursive: true });
    for (const name of ['tfjs-core', 'tfjs-backend-wasm', 'tfjs-backend-cpu']) {
      symlinkSync(realpathSync(join(pkgDir, 'node_modules', '@tensorflow', name)), join(tfDir, name), 'dir');
    }
    const md = readFileSync(join(pkgDir, 'README.md'), 'utf8');
    const example = /```js\n([\s\S]*?)```/.exec(md)![1];
    writeFileSync(join(app, 'example.mjs'), example);
    const out = run('node', ['example.mjs'], app);
    console.log(out);
    expect(out).toContain('[ [ 1, 1 ], [ 1, 4 ], [ 1, 9 ], [ 1, 16 ] ]');
    expect(out).toMatch(/\[ 1, 3, 8, 8 \] \[ 1, 29, 8 \]/);
    // training works in plain Node too (the package registers the gradients it needs)
    writeFileSync(
      join(app, 'train.mjs'),
      `import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '@var/core';
import { VQVAE, VQVAETrainer } from '@var/tokenizer';
await initBackend('wasm', { threads: 1 });
const vae = VQVAE.create({ ch: 32, chMult: [1, 2], numResBlocks: 1, zChannels: 4, vocabSize: 16, vPatchNums: [1, 2, 4] }, { seed: 1 });
const x = tf.randomUniform([2, 3, 8, 8], -1, 1, 'float32', 3);
const t = new VQVAETrainer(vae, { learningRate: 3e-3 });
const a = t.step(x); let b = a;
for (let i = 0; i < 5; i++) b = t.step(x);
console.log('loss', a.loss.toFixed(4), '->', b.loss.toFixed(4));
`,
    );
    const out2 = run('node', ['train.mjs'], app);
    console.log(out2);
    const m = /loss ([\d.]+) -> ([\d.]+)/.exec(out2)!;
    expect(Number(m[2])).toBeLessThan(Number(m[1]));
  }, 300_000);
});
