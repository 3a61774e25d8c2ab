import { test } from 'vitest';
import { loadFixtureCase } from '@var/test-helpers';
import { readPth, readSafetensors, loadStateDict, readPthObject } from '../src/index.js';
test('smoke', async () => {
  const fc = loadFixtureCase();
  for (const f of ['var', 'vae']) {
    let t = performance.now();
    const a = await readPth(fc.path(f + '.pth'));
    const t1 = performance.now() - t; t = performance.now();
    const b = await readSafetensors(fc.path(f + '.safetensors'));
    const t2 = performance.now() - t;
    console.log(f, a.size, b.tensors.size, t1.toFixed(1), t2.toFixed(1), [...a.keys()].slice(0, 3), a.get('lvl_1L'));
  }
  const o = await readPthObject(fc.path('var.pth'));
  console.log((o as Map<string, unknown>).size);
});
