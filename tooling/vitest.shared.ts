import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Tests import sibling packages from their sources (packages/<name>/src/index.ts), so a
 * change in @var/core is seen by @var/tokenizer's tests without a rebuild. The built
 * `dist/` is exercised by the pack-and-install tests.
 */
export const varAliases = [
  { find: /^@var\/core\/errors$/, replacement: join(root, 'packages', 'core', 'src', 'errors.ts') },
  { find: /^@var\/core\/fs$/, replacement: join(root, 'packages', 'core', 'src', 'fs', 'atomic.ts') },
  {
    find: /^@var\/(core|checkpoint|tokenizer|transformer|sampling|metrics|data|datasets|models|train|pipeline)$/,
    replacement: '$1',
    customResolver(id: string) {
      const p = join(root, 'packages', id, 'src', 'index.ts');
      return existsSync(p) ? p : null;
    },
  },
];

/**
 * Setup files of every project: after each test the worker goes once round the event loop, so a
 * file of heavy synchronous tests cannot starve vitest's 60 s worker RPC (vitest-worker-yield.ts).
 */
export const workerSetupFiles = [join(root, 'tooling', 'vitest-worker-yield.ts')];
