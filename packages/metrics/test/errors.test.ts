import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as core from '@var/core';
import { ShapeError, fidFromFeatures } from '../src/index.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('errors come from @var/core (no copies)', () => {
  it('an error thrown by the metrics is an instance of @var/core classes', () => {
    expect(ShapeError).toBe(core.ShapeError);
    let err: unknown;
    try {
      fidFromFeatures(new Float64Array(6), 2, new Float64Array(8), 2, 3);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(core.VarError);
    expect(err).toBeInstanceOf(core.ShapeError);
  });

  it.skipIf(!existsSync(join(pkg, 'dist', 'index.js')))('in the built packages too: the dist bundles no error class of its own', () => {
    const code = `
      const m = await import('@var/metrics');
      const c = await import('@var/core');
      const e = await import('@var/core/errors');
      let err; try { m.fidFromFeatures(new Float64Array(6), 2, new Float64Array(8), 2, 3); } catch (x) { err = x; }
      console.log(JSON.stringify([m.ShapeError === c.ShapeError, e.ShapeError === c.ShapeError, err instanceof c.ShapeError]));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: pkg, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.trim())).toEqual([true, true, true]);
  });
});
