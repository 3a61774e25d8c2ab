import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const dir = join(__dirname, '..');

it('the README example is the tested example, and it runs', async () => {
  const readme = readFileSync(join(dir, 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  const example = readFileSync(join(__dirname, 'readme.example.ts'), 'utf8');
  expect(block?.trim()).toBe(example.replace(/\nexport \{ loss \};\n?$/, '').trim());
  const mod = await import('./readme.example.js');
  expect(Number.isFinite(mod.loss)).toBe(true);
});
