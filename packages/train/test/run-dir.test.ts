import { spawnSync } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareRunDir } from '../src/index.js';
import { removeStaleTemporaries } from '../src/run-dir.js';
import { tmpRunDir } from './helpers.js';

describe('stale temporary files of killed writes', () => {
  it('prepareRunDir removes those of dead processes and keeps those of live ones and every other file', async () => {
    const dir = await tmpRunDir();
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // exited: its pid is no longer running
    const stale = [`.checkpoint.safetensors.${dead}.m1x2y3ab.tmp`, `config.json.tmp-${dead}-4`];
    const live = [`.checkpoint.safetensors.${process.pid}.m1x2y3ab.tmp`];
    const other = ['log.jsonl', 'notes.tmp', 'tokens-0123456789abcdef.safetensors'];
    for (const f of [...stale, ...live, ...other]) await writeFile(join(dir, f), 'x');
    await prepareRunDir(dir, { kind: 'var', version: 1, seed: 0 });
    const left = await readdir(dir);
    for (const f of stale) expect(left).not.toContain(f);
    for (const f of [...live, ...other, 'config.json']) expect(left).toContain(f);
    expect(await removeStaleTemporaries(dir)).toEqual([]);
  });
});
