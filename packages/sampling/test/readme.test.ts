/**
 * Runs the README's example (the first ```ts block under "## Example") on the fixture case's
 * models: the TypeScript is transpiled, its imports are bound to the workspace modules, and it
 * runs as an async function with VAR_MODEL_DIR pointing at the case directory.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import ts from 'typescript';
import * as tf from '@tensorflow/tfjs-core';
import * as fsPromises from 'node:fs/promises';
import * as core from '@var/core';
import * as checkpoint from '@var/checkpoint';
import * as tokenizer from '@var/tokenizer';
import * as transformer from '@var/transformer';
import * as sampling from '../src/index.js';
import { loadFixtureCase } from '@var/test-helpers';

const here = dirname(fileURLToPath(import.meta.url));
const modules: Record<string, unknown> = {
  '@tensorflow/tfjs-core': tf,
  'node:fs/promises': fsPromises,
  '@var/core': core,
  '@var/checkpoint': checkpoint,
  '@var/tokenizer': tokenizer,
  '@var/transformer': transformer,
  '@var/sampling': sampling,
};

function exampleCode(): string {
  const md = readFileSync(join(here, '..', 'README.md'), 'utf8');
  const section = md.split(/^## Example\s*$/m)[1];
  const m = section && /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('README.md has no ```ts block under "## Example"');
  return m[1];
}

/** Transpile to JS and turn `import ... from 'x'` into lookups in `__mods`. */
function toFunctionBody(src: string): string {
  const js = ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  return js.replace(/^import\s+(.+?)\s+from\s+'([^']+)';$/gm, (_all, what: string, from: string) => {
    if (!(from in modules)) throw new Error(`README example imports ${from}, which the test does not provide`);
    const ns = /^\*\s+as\s+(\w+)$/.exec(what);
    if (ns) return `const ${ns[1]} = __mods[${JSON.stringify(from)}];`;
    const named = /^\{(.+)\}$/.exec(what);
    if (!named) throw new Error(`unsupported import form: ${what}`);
    const parts = named[1]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => s.replace(/\s+as\s+/, ': '));
    return `const { ${parts.join(', ')} } = __mods[${JSON.stringify(from)}];`;
  });
}

it('the README example runs on the fixture models and frees its tensors', async () => {
  const fc = loadFixtureCase();
  const body = toFunctionBody(exampleCode());
  expect(body).not.toMatch(/^import /m);
  const logs: string[] = [];
  const fakeConsole = { log: (...a: unknown[]) => logs.push(a.map(String).join(' ')) };
  const fakeProcess = { env: { VAR_MODEL_DIR: fc.dir } };
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
  const run = new AsyncFunction('__mods', 'console', 'process', body);
  // the example initialises its backend; count tensors from after that point
  await core.initBackend('wasm', { threads: 1 }).catch(() => core.initBackend('cpu'));
  const before = tf.memory().numTensors;
  await run(modules, fakeConsole, fakeProcess);
  expect(tf.memory().numTensors).toBe(before);
  const S = fc.config.VAR.patch_nums.length;
  expect(logs.filter((l) => l.startsWith('scale ')).length).toBe(S);
  const side = fc.config.img_size;
  expect(logs).toContain(`generated 2,3,${side},${side}`);
  expect(logs).toContain(`edited 1,3,${side},${side}`);
});
