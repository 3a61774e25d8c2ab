/**
 * NumPy `.npy` arrays and `.npz` archives (a zip of `.npy` files), the format of the
 * ADM evaluator's reference batches (`mu`, `sigma`, or raw activations `arr_0`).
 *
 * Supported element types: little-endian float64 (`<f8`) and float32 (`<f4`), C order.
 * Big-endian data, Fortran order and other dtypes are rejected with a ValueError that
 * names what was found. The zip layer is fflate (stored and deflated members).
 */
import { unzipSync, zipSync } from 'fflate';
import { ShapeError, ValueError } from './errors.js';
import { FeatureStats } from './stats.js';

/** A dense n-d array as stored in a `.npy` file. */
export interface NpyArray {
  dtype: '<f8' | '<f4';
  shape: number[];
  data: Float64Array | Float32Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Parse the Python-literal header dict of a .npy file. */
function parseHeader(text: string, what: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new ValueError(`${what}: malformed .npy header ${JSON.stringify(text.trim())}`);
  const dims = shape[1]
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const v = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(v) || v < 0) throw new ValueError(`${what}: bad dimension ${JSON.stringify(s)} in .npy shape`);
      return v;
    });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dims };
}

/** Read one `.npy` file (bytes). */
export function readNpy(bytes: Uint8Array, what = 'readNpy'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new ValueError(`${what}: not a .npy file (missing the \\x93NUMPY magic)`);
  }
  const major = bytes[6];
  let headerLen: number, start: number;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new ValueError(`${what}: truncated .npy header`);
    headerLen = dv.getUint32(8, true);
    start = 12;
  } else {
    throw new ValueError(`${what}: unsupported .npy format version ${major}.${bytes[7]} (expected 1.0, 2.0 or 3.0)`);
  }
  if (start + headerLen > bytes.length)
    throw new ValueError(`${what}: truncated .npy header (needs ${start + headerLen} bytes, file has ${bytes.length})`);
  const header = parseHeader(new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen)), what);
  if (header.fortran) {
    throw new ValueError(`${what}: Fortran-order arrays are not supported; save a C-contiguous array (numpy.ascontiguousarray) instead`);
  }
  let size: number;
  if (header.descr === '<f8') size = 8;
  else if (header.descr === '<f4') size = 4;
  else {
    throw new ValueError(
      `${what}: unsupported dtype ${JSON.stringify(header.descr)}; expected little-endian float64 '<f8' or float32 '<f4'`,
    );
  }
  const count = header.shape.reduce((a, b) => a * b, 1);
  const off = start + headerLen;
  const need = count * size;
  if (bytes.length - off < need) {
    throw new ShapeError(`${what}: shape [${header.shape}] needs ${need} data bytes, file has ${bytes.length - off}`);
  }
  // Copy into an aligned buffer (the data offset need not be a multiple of 8 in a zip).
  // Uint8Array's slice (a copy), also for Node Buffers whose slice() is a view.
  const raw = Uint8Array.prototype.slice.call(bytes, off, off + need);
  const data = size === 8 ? new Float64Array(raw.buffer, 0, count) : new Float32Array(raw.buffer, 0, count);
  if (!littleEndianHost) byteSwap(raw, size);
  return { dtype: header.descr as NpyArray['dtype'], shape: header.shape, data };
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function byteSwap(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) b.subarray(i, i + size).reverse();
}

/** Write one array as a `.npy` file (format 1.0, header padded to a multiple of 64). */
export function writeNpy(data: Float64Array | Float32Array, shape: number[] = [data.length]): Uint8Array {
  if (!(data instanceof Float64Array || data instanceof Float32Array)) {
    throw new ValueError(`writeNpy: expected a Float64Array or Float32Array, got ${Object.prototype.toString.call(data)}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((s) => !Number.isInteger(s) || s < 0) || count !== data.length) {
    throw new ShapeError(`writeNpy: shape [${shape}] holds ${count} values, data has ${data.length}`);
  }
  const descr = data instanceof Float64Array ? '<f8' : '<f4';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  if (header.length > 65535) throw new ShapeError('writeNpy: header too long for format 1.0');
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  if (!littleEndianHost) byteSwap(body, data.BYTES_PER_ELEMENT);
  out.set(body, 10 + header.length);
  return out;
}

function toBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}

/**
 * Read a `.npz` archive. Members are parsed lazily: only the arrays named in `names`
 * (default: all) are decoded, so e.g. `mu`/`sigma` can be read from an archive whose
 * `arr_0` holds uint8 images. Keys are member names without `.npy`.
 */
export function readNpz(input: Uint8Array | ArrayBuffer, names?: string[]): Map<string, NpyArray> {
  const bytes = toBytes(input);
  if (bytes.length < 4 || bytes[0] !== 0x50 || bytes[1] !== 0x4b) {
    throw new ValueError('readNpz: not a zip archive (.npz files start with "PK")');
  }
  const wanted = names ? new Set(names.map((n) => `${n}.npy`)) : null;
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => (wanted ? wanted.has(f.name) : f.name.endsWith('.npy')) });
  } catch (err) {
    throw new ValueError(`readNpz: cannot unzip the archive: ${(err as Error).message}`, { cause: err });
  }
  const out = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(files)) {
    const key = name.replace(/\.npy$/, '');
    out.set(key, readNpy(data, `readNpz: member ${name}`));
  }
  if (names) {
    const missing = names.filter((n) => !out.has(n));
    if (missing.length) throw new ValueError(`readNpz: the archive has no ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
  }
  return out;
}

/** Write arrays as a `.npz` archive (stored, like `numpy.savez`; `compress` deflates like `savez_compressed`). */
export function writeNpz(
  arrays:
    | Record<string, { data: Float64Array | Float32Array; shape?: number[] }>
    | Map<string, { data: Float64Array | Float32Array; shape?: number[] }>,
  opts: { compress?: boolean } = {},
): Uint8Array {
  const entries = arrays instanceof Map ? [...arrays.entries()] : Object.entries(arrays);
  const files: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  for (const [name, a] of entries) {
    files[`${name}.npy`] = [writeNpy(a.data, a.shape ?? [a.data.length]), { level: opts.compress ? 6 : 0 }];
  }
  return zipSync(files);
}

/**
 * Reference statistics from a `.npz` (bytes): `mu` and `sigma` when present, else the
 * statistics of the raw activations `arr_0` (n×d). Float64 throughout.
 */
export function readReferenceStats(input: Uint8Array | ArrayBuffer): FeatureStats {
  const bytes = toBytes(input);
  let names: string[] = [];
  unzipSync(bytes, {
    filter: (f) => {
      names.push(f.name.replace(/\.npy$/, ''));
      return false;
    },
  });
  names = names.filter((n) => n.length > 0);
  if (names.includes('mu') && names.includes('sigma')) {
    const m = readNpz(bytes, ['mu', 'sigma']);
    const mu = m.get('mu')!,
      sigma = m.get('sigma')!;
    const d = mu.data.length;
    if (mu.shape.length !== 1 || sigma.shape.length !== 2 || sigma.shape[0] !== d || sigma.shape[1] !== d) {
      throw new ShapeError(`readReferenceStats: expected mu (d,) and sigma (d, d), got mu [${mu.shape}] and sigma [${sigma.shape}]`);
    }
    return FeatureStats.fromMoments(mu.data, sigma.data);
  }
  if (names.includes('arr_0')) {
    const a = readNpz(bytes, ['arr_0']).get('arr_0')!;
    if (a.shape.length !== 2) throw new ShapeError(`readReferenceStats: arr_0 must be activations (n, d), got shape [${a.shape}]`);
    return FeatureStats.fromFeatures(a.data, a.shape[0], a.shape[1]);
  }
  throw new ValueError(`readReferenceStats: expected members mu and sigma, or arr_0; the archive has ${names.join(', ') || 'none'}`);
}

/** Write statistics as a `.npz` with float64 `mu` (d,) and `sigma` (d, d). */
export function writeReferenceStats(stats: FeatureStats): Uint8Array {
  const d = stats.dim;
  return writeNpz({ mu: { data: stats.mu(), shape: [d] }, sigma: { data: stats.sigma(), shape: [d, d] } });
}
