/**
 * @var/metrics installs alone: pack it, install the tarball into an empty directory with
 * npm, and run the README examples there — the metrics example with no TensorFlow.js
 * installed at all, then the extractor example after linking tfjs-core and the wasm
 * backend from this workspace.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'var-metrics-pack-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The ```js blocks of the README, in order. */
function readmeExamples(): string[] {
  const md = readFileSync(join(pkgDir, 'README.md'), 'utf8');
  return [...md.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const run = (cmd: string, args: string[], cwd: string) =>
  execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_loglevel: 'error' } });

describe('pack and install @var/metrics alone', () => {
  it('README examples run from the installed tarball; the metrics need no tfjs', () => {
    if (!existsSync(join(pkgDir, 'dist', 'index.js'))) run('pnpm', ['run', 'build'], pkgDir);
    const packDir = join(tmp, 'pack');
    mkdirSync(packDir);
    run('pnpm', ['pack', '--pack-destination', packDir], pkgDir);
    const tarball = readdirSync(packDir).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(tmp, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(packDir, tarball!)], app);
    expect(existsSync(join(app, 'node_modules', '@var', 'metrics', 'weights', 'digit-classifier.safetensors'))).toBe(true);
    expect(existsSync(join(app, 'node_modules', '@tensorflow'))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@var', 'core'))).toBe(false);

    const [metricsExample, extractorExample] = readmeExamples();
    writeFileSync(join(app, 'metrics.mjs'), metricsExample);
    const out1 = run('node', ['metrics.mjs'], app);
    console.log(out1);
    expect(out1).toMatch(/^FID \d+\.\d{4}$/m);
    expect(out1).toMatch(/^precision [\d.]+ recall [\d.]+$/m);
    expect(out1).toMatch(/^IS \d/m);
    const fids = [...out1.matchAll(/FID.*?(\d+\.\d{4})$/gm)].map((m) => m[1]);
    expect(fids[0]).toBe(fids[1]); // reloaded .npz reference gives the same FID

    // extractors: link tfjs-core and the wasm backend of this workspace
    const tfDir = join(app, 'node_modules', '@tensorflow');
    mkdirSync(tfDir);
    for (const name of ['tfjs-core', 'tfjs-backend-wasm']) {
      symlinkSync(realpathSync(join(pkgDir, 'node_modules', '@tensorflow', name)), join(tfDir, name), 'dir');
    }
    writeFileSync(join(app, 'extractors.mjs'), extractorExample);
    const out2 = run('node', ['extractors.mjs'], app);
    console.log(out2);
    expect(out2).toMatch(/^digit FID \d+\.\d{3}$/m);
    expect(out2).toMatch(/^digit IS \d+\.\d{3}$/m);
  }, 300_000);
});
