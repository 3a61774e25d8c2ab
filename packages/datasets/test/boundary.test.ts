/**
 * The data packages stay with @var/datasets: @var/data (image I/O, tensors, folders,
 * batching) neither declares nor imports `mnist` or `emoji-datasource-google`. (That its
 * packed tarball installs without them is checked by tooling/pack-test.)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packages = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA_PACKAGES = ['mnist', 'emoji-datasource-google'];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.ts$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

describe('@var/data without the datasets', () => {
  it("@var/data's package.json has no mnist / emoji-datasource-google dependency of any kind; @var/datasets has both", () => {
    const data = JSON.parse(readFileSync(join(packages, 'data', 'package.json'), 'utf8')) as Record<
      string,
      Record<string, string> | undefined
    >;
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'devDependencies', 'bundleDependencies']) {
      for (const p of DATA_PACKAGES) expect(Object.keys(data[field] ?? {}), `@var/data ${field}`).not.toContain(p);
    }
    const ds = JSON.parse(readFileSync(join(packages, 'datasets', 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    expect(Object.keys(ds.dependencies)).toEqual(expect.arrayContaining([...DATA_PACKAGES, '@var/data']));
  });

  it("no file of @var/data's src/ imports them", () => {
    const files = sources(join(packages, 'data', 'src'));
    expect(files.length).toBeGreaterThan(5);
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const p of DATA_PACKAGES)
        expect(text, f).not.toMatch(new RegExp(`(?:\\bfrom\\s*|\\bimport\\s*\\(?\\s*|require\\(\\s*)['"]${p}(?:/[^'"]*)?['"]`));
    }
  });
});
