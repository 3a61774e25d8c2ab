/**
 * Fixture cases produced by the official VAR code (see ../shared/fixtures/README.md).
 *
 * The case directory comes from `VAR_FIXTURE_DIR` (absolute, or relative to the
 * repository root); the default is `../shared/fixtures/var-tiny` relative to the repo
 * root. Parity tests derive every shape and option from the case's `config.json` and
 * `refs.json`, never from constants.
 *
 * This reader is deliberately independent of @var/checkpoint (the code under test):
 * it trusts its input and implements only what the fixtures use.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor holding pnpm-workspace.yaml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('test-helpers: cannot find the repository root (pnpm-workspace.yaml)');
    dir = up;
  }
}

/** Directory of the shared fixtures (`../shared/fixtures` beside the repo). */
export function sharedFixturesDir(): string {
  return resolve(repoRoot(), '..', 'shared', 'fixtures');
}

/** Directory of the fixture case under test: `VAR_FIXTURE_DIR` or the default var-tiny. */
export function fixtureDir(): string {
  const env = process.env.VAR_FIXTURE_DIR;
  if (env && env.length > 0) return isAbsolute(env) ? env : resolve(repoRoot(), env);
  return join(sharedFixturesDir(), 'var-tiny');
}

/** A dense array read from a fixture safetensors file. */
export interface FixtureTensor {
  dtype: string;
  shape: number[];
  /** Float32Array for F32, Float64Array for F64, Int32Array for I64/I32 (values checked to fit), Uint8Array for U8/BOOL. */
  data: Float32Array | Float64Array | Int32Array | Uint8Array;
}

/** Minimal, trusting safetensors reader for fixture files. */
export function readFixtureSafetensors(path: string): Map<string, FixtureTensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + n;
  const out = new Map<string, FixtureTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [s, e] = info.data_offsets;
    const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset + base + s, buf.byteOffset + base + e));
    let data: FixtureTensor['data'];
    switch (info.dtype) {
      case 'F32':
        data = new Float32Array(bytes.buffer);
        break;
      case 'F64':
        data = new Float64Array(bytes.buffer);
        break;
      case 'I32':
        data = new Int32Array(bytes.buffer);
        break;
      case 'I64': {
        const big = new BigInt64Array(bytes.buffer);
        data = new Int32Array(big.length);
        for (let i = 0; i < big.length; i++) {
          const v = big[i];
          if (v > 2147483647n || v < -2147483648n) throw new Error(`${name}: int64 value ${v} does not fit int32`);
          data[i] = Number(v);
        }
        break;
      }
      case 'U8':
      case 'BOOL':
        data = bytes;
        break;
      default:
        throw new Error(`readFixtureSafetensors: dtype ${info.dtype} of ${name} not supported`);
    }
    out.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return out;
}

/** One fixture case: its config, refs metadata and lazily-read tensor files. */
export interface FixtureCase {
  dir: string;
  /** Parsed config.json. */
  config: any;
  /** Parsed refs.json. */
  refs: any;
  /** Path of a file in the case directory. */
  path(file: string): string;
  /** A tensor of refs.safetensors by name (throws naming the case if absent). */
  ref(name: string): FixtureTensor;
  /** Whether refs.safetensors has this tensor. */
  hasRef(name: string): boolean;
  /** All tensors of a safetensors file of the case (cached). */
  tensors(file: string): Map<string, FixtureTensor>;
}

const cache = new Map<string, FixtureCase>();

/** JSON.parse that also accepts Python's bare NaN / Infinity / -Infinity tokens (as json.dump writes them). */
export function parsePythonJson(text: string): any {
  const marked = text.replace(/([:[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])/g, '$1"__pyjson_$2"');
  return JSON.parse(marked, (_k, v) => {
    if (v === '__pyjson_NaN') return NaN;
    if (v === '__pyjson_Infinity') return Infinity;
    if (v === '__pyjson_-Infinity') return -Infinity;
    return v;
  });
}

/** Load the fixture case from `VAR_FIXTURE_DIR` (or the given directory). */
export function loadFixtureCase(dir: string = fixtureDir()): FixtureCase {
  const hit = cache.get(dir);
  if (hit) return hit;
  if (!existsSync(join(dir, 'config.json'))) {
    throw new Error(`fixture case not found: ${dir}/config.json (set VAR_FIXTURE_DIR to a case directory)`);
  }
  const files = new Map<string, Map<string, FixtureTensor>>();
  const tensors = (file: string) => {
    let t = files.get(file);
    if (!t) {
      t = readFixtureSafetensors(join(dir, file));
      files.set(file, t);
    }
    return t;
  };
  const fc: FixtureCase = {
    dir,
    config: parsePythonJson(readFileSync(join(dir, 'config.json'), 'utf8')),
    refs: parsePythonJson(readFileSync(join(dir, 'refs.json'), 'utf8')),
    path: (file) => join(dir, file),
    tensors,
    hasRef: (name) => tensors('refs.safetensors').has(name),
    ref: (name) => {
      const t = tensors('refs.safetensors').get(name);
      if (!t) throw new Error(`fixture ${dir}: refs.safetensors has no tensor "${name}"`);
      return t;
    },
  };
  cache.set(dir, fc);
  return fc;
}
