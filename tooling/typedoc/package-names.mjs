// TypeDoc plugin: name each entry-point module after its package ("@var/core") instead of
// its path ("core/src"), reading the name from packages/<dir>/package.json.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Converter, ReflectionKind } from 'typedoc';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    for (const mod of context.project.getReflectionsByKind(ReflectionKind.Module)) {
      const m = /^([\w-]+)\/src(?:\/index)?$/.exec(mod.name);
      if (!m) continue;
      try {
        mod.name = JSON.parse(readFileSync(join(root, 'packages', m[1], 'package.json'), 'utf8')).name;
      } catch {
        // not a package directory: keep TypeDoc's name
      }
    }
  });
}
