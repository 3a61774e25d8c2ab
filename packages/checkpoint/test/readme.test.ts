/** Runs the README example (its first ```ts block) against the fixture case's vae.pth. */
import * as fsp from 'node:fs/promises';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { loadFixtureCase, sharedFixturesDir } from '@var/test-helpers';
import * as pkg from '../src/index.js';

test('the README example runs', async () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const readme = await readFile(join(here, '..', 'README.md'), 'utf8');
  const block = /## Example\s+```ts\n([\s\S]*?)```/.exec(readme);
  expect(block, 'README has an Example ts block').not.toBeNull();
  const dir = await mkdtemp(join(tmpdir(), 'var-ckpt-readme-'));
  try {
    const fc = loadFixtureCase();
    await copyFile(fc.path('vae.pth'), join(dir, 'vae.pth'));
    await copyFile(join(sharedFixturesDir(), 'official-shapes', 'vae_ch160v4096z32.json'), join(dir, 'vae_ch160v4096z32.json'));
    const code = block![1]
      .replace(/import \{([^}]*)\} from '@var\/checkpoint';/, 'const {$1} = __pkg;')
      .replace(/import \{([^}]*)\} from 'node:fs\/promises';/, 'const {$1} = __fsp;')
      .replace(/'([\w.]+\.(?:pth|safetensors|json))'/g, (_m, f: string) => JSON.stringify(join(dir, f)));
    expect(code).not.toMatch(/^import /m);
    const logs: unknown[][] = [];
    const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
    await new AsyncFunction('__pkg', '__fsp', 'console', code)(pkg, fsp, { log: (...a: unknown[]) => logs.push(a) });
    const vae = await pkg.readPth(fc.path('vae.pth'));
    expect(logs[0]).toEqual(['demo', new Float32Array([0.5, -0.5])]);
    expect(logs[1]).toEqual([vae.size, [fc.config.VQVAE.vocab_size, fc.config.VQVAE.z_channels]]);
    expect(logs[2][0]).toBe(false); // the fixture VAE is much smaller than the released one
    const floats = [...vae.values()].filter((t) => pkg.isFloatDType(t.dtype) && t.dtype !== 'F16').length;
    expect(logs[3]).toEqual([vae.size, floats, 0]);
    expect(logs[4]).toEqual([[2, 3]]);
    const trainer = (await pkg.readPthObject(join(dir, 'trainer.pth'))) as Map<string, unknown>;
    expect(trainer.get('betas')).toEqual([0.9, 0.95]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
