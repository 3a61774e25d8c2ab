/**
 * Top-k / top-p filtering and categorical sampling on the CPU, in float64.
 *
 * Semantics follow the official `sample_with_top_k_top_p_` (FoundationVision/VAR,
 * models/helpers.py):
 *
 * - top-k (`k > 0`): keep every logit `>=` the k-th largest value of its row (so ties at
 *   the k-th value are all kept), the others become `-Infinity`. `k >= V` keeps everything
 *   (the official code would raise there; "no filtering" is the only sensible meaning).
 * - top-p (`0 < p < 1`), applied after top-k: sort the row ascending, take the softmax of
 *   the sorted (already top-k filtered) logits, and remove every position whose cumulative
 *   probability is `<= 1 - p`; the largest logit is always kept. `p <= 0` or `p >= 1` is "off".
 *   Ties in the sort are ordered by token index (a stable sort), so among equal logits the
 *   lower index is removed first.
 *
 * Sampling draws one uniform number per row from the caller's RNG and inverts the
 * cumulative distribution of the softmax of the filtered logits, in float64. Because it runs
 * on downloaded logits it gives the same tokens on every TensorFlow.js backend.
 */
import { NonFiniteError, ShapeError, ValueError, type RandomSource as CoreRandomSource } from '@var/core';

/** The part of @var/core's `RandomSource` (e.g. an `Rng`) the sampler draws from: uniforms in [0, 1). */
export type RandomSource = Pick<CoreRandomSource, 'random'>;

/** Options of {@link filterLogits}. */
export interface FilterOptions {
  /** Keep the `topK` largest logits per row (ties kept); `0` (default) or `>= V` is off. */
  topK?: number;
  /** Nucleus filter: keep the smallest set of largest logits with mass `> 1 - topP`… see module doc; `<= 0` or `>= 1` is off. */
  topP?: number;
}

/** Validate `topK` / `topP` and return them normalised (defaults 0 / 0). */
export function checkFilterOptions(opts: FilterOptions = {}): { topK: number; topP: number } {
  const topK = opts.topK ?? 0;
  const topP = opts.topP ?? 0;
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 0) {
    throw new ValueError(`topK must be an integer >= 0 (0 = off); got ${String(topK)}`);
  }
  if (typeof topP !== 'number' || Number.isNaN(topP)) {
    throw new ValueError(`topP must be a number (<= 0 or >= 1 = off); got ${String(topP)}`);
  }
  return { topK, topP };
}

function assertRows(logits: ArrayLike<number>, V: number): number {
  if (!Number.isInteger(V) || V <= 0) throw new ShapeError(`vocabulary size V must be a positive integer; got ${V}`);
  if (logits.length % V !== 0) {
    throw new ShapeError(`logits length ${logits.length} is not a multiple of the vocabulary size ${V}`);
  }
  return logits.length / V;
}

/** The k-th largest value of `a` (1-based k), by quickselect on `scratch` (clobbered). */
function kthLargest(a: Float64Array, k: number, scratch: Float64Array): number {
  const n = a.length;
  scratch.set(a);
  // position of the k-th largest in ascending order
  const target = n - k;
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    // median of three as the pivot
    const mid = (lo + hi) >>> 1;
    let x = scratch[lo],
      y = scratch[mid],
      z = scratch[hi];
    if (x > y) [x, y] = [y, x];
    if (y > z) [y, z] = [z, y];
    if (x > y) [x, y] = [y, x];
    const pivot = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i] < pivot) i++;
      while (scratch[j] > pivot) j--;
      if (i <= j) {
        const t = scratch[i];
        scratch[i] = scratch[j];
        scratch[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return scratch[target];
  }
  return scratch[target];
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** An unsigned key ordering float32 values ascending (as a float64-safe integer). */
function sortableBits(v: number): number {
  F32[0] = v === 0 ? 0 : v; // -0 sorts with +0 (by index)
  const u = U32[0];
  return u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
}

/** Scratch buffers reused across the rows of one call. */
interface Scratch {
  values: Float64Array;
  keys: Float64Array;
}

function makeScratch(V: number): Scratch {
  return { values: new Float64Array(V), keys: new Float64Array(V) };
}

/**
 * Indices of the finite-or-+Infinity entries of `row` (those above -Infinity), ascending by
 * value with ties by index (a stable sort). Uses a numeric sort of packed (value, index) keys
 * when every value is a float32 (the logits come from float32 tensors), else a comparator sort.
 */
function ascendingKept(row: Float64Array, scratch: Scratch): Int32Array {
  const V = row.length;
  let n = 0;
  let packable = V <= 1 << 21;
  for (let i = 0; i < V; i++) {
    const v = row[i];
    if (v === -Infinity) continue;
    if (packable && Math.fround(v) !== v) packable = false;
    n++;
  }
  const out = new Int32Array(n);
  if (packable) {
    const mult = 2 ** Math.max(1, Math.ceil(Math.log2(V)));
    const keys = scratch.keys.subarray(0, n);
    let j = 0;
    for (let i = 0; i < V; i++) if (row[i] !== -Infinity) keys[j++] = sortableBits(row[i]) * mult + i;
    keys.sort();
    for (let t = 0; t < n; t++) out[t] = keys[t] % mult;
    return out;
  }
  let j = 0;
  for (let i = 0; i < V; i++) if (row[i] !== -Infinity) out[j++] = i;
  return Int32Array.from(Array.from(out).sort((a, b) => (row[a] === row[b] ? a - b : row[a] < row[b] ? -1 : 1)));
}

/**
 * Filter one row in place: `row` holds the logits of one position (float64).
 * Returns the row for convenience.
 */
export function filterRow(row: Float64Array, topK: number, topP: number): Float64Array {
  return filterRowWith(row, topK, topP, makeScratch(row.length));
}

function filterRowWith(row: Float64Array, topK: number, topP: number, scratch: Scratch): Float64Array {
  const V = row.length;
  for (let i = 0; i < V; i++) {
    if (Number.isNaN(row[i])) throw new NonFiniteError(`logits contain NaN (at token ${i})`);
  }
  if (topK > 0 && topK < V) {
    const kth = kthLargest(row, topK, scratch.values);
    for (let i = 0; i < V; i++) if (row[i] < kth) row[i] = -Infinity;
  }
  if (topP > 0 && topP < 1) {
    // Entries already at -Infinity have probability 0: they sort first with a cumulative mass
    // of 0 (<= 1 - p), i.e. they stay removed; only the others need sorting.
    const idx = ascendingKept(row, scratch);
    const n = idx.length;
    if (n === 0) return row; // all -Infinity: nothing to filter (sampling will reject the row)
    const max = row[idx[n - 1]];
    if (max === Infinity) {
      // +Infinity takes all the mass; the softmax is undefined (NaN) officially.
      throw new NonFiniteError('logits contain +Infinity; cannot apply top-p');
    }
    let total = 0;
    for (let j = 0; j < n; j++) total += Math.exp(row[idx[j]] - max);
    const limit = 1 - topP;
    let cum = 0;
    let cut = 0; // idx[0..cut) are removed
    for (let j = 0; j < n - 1; j++) {
      cum += Math.exp(row[idx[j]] - max) / total;
      if (cum <= limit) cut = j + 1;
      else break; // the cumulative sum only grows
    }
    for (let j = 0; j < cut; j++) row[idx[j]] = -Infinity;
  }
  return row;
}

/**
 * Apply the official top-k then top-p filter to every row of `logits` (length N·V, rows of
 * V). Returns a new Float64Array with removed entries set to `-Infinity`.
 */
export function filterLogits(logits: ArrayLike<number>, V: number, opts: FilterOptions = {}): Float64Array {
  const { topK, topP } = checkFilterOptions(opts);
  const rows = assertRows(logits, V);
  const out = Float64Array.from(logits as ArrayLike<number>);
  const scratch = makeScratch(V);
  for (let r = 0; r < rows; r++) filterRowWith(out.subarray(r * V, (r + 1) * V), topK, topP, scratch);
  return out;
}

/** Softmax of one row in float64 (entries at `-Infinity` get probability 0). */
export function softmaxRow(row: ArrayLike<number>, out: Float64Array = new Float64Array(row.length)): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  if (!Number.isFinite(max)) {
    throw new NonFiniteError(
      max === -Infinity ? 'every logit of a row is -Infinity: nothing to sample' : 'logits contain +Infinity or NaN',
    );
  }
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp(row[i] - max);
    out[i] = e;
    total += e;
  }
  for (let i = 0; i < row.length; i++) out[i] /= total;
  return out;
}

/**
 * The filtered distribution the sampler draws from: softmax(filterLogits(...)) per row,
 * float64, length N·V. Useful to check sampling statistically.
 */
export function filteredProbabilities(logits: ArrayLike<number>, V: number, opts: FilterOptions = {}): Float64Array {
  const f = filterLogits(logits, V, opts);
  const rows = f.length / V;
  for (let r = 0; r < rows; r++) {
    const row = f.subarray(r * V, (r + 1) * V);
    softmaxRow(row, row);
  }
  return f;
}

/** Draw one index from unnormalised non-negative `weights` with one `rng.random()` call. */
export function sampleIndex(weights: ArrayLike<number>, rng: RandomSource): number {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  const u = rng.random();
  if (!(total > 0) || !Number.isFinite(total)) throw new NonFiniteError(`cannot sample: weights sum to ${total}`);
  const target = u * total;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (w <= 0) continue;
    last = i;
    cum += w;
    if (target < cum) return i;
  }
  return last; // rounding: u*total can equal the float sum; take the last positive weight
}

/**
 * Filter (top-k, top-p) and sample one token per row of `logits` (N·V floats). Consumes
 * exactly one `rng.random()` per row, whatever the filter leaves, so a stream of draws does
 * not depend on the logits. Returns the tokens (Int32Array of N) and, on request, the
 * filtered logits (float64, `-Infinity` where removed) for a Gumbel-softmax preview.
 */
export function sampleTokens(
  logits: ArrayLike<number>,
  V: number,
  rng: RandomSource,
  opts: FilterOptions = {},
): { tokens: Int32Array; filtered: Float64Array } {
  const filtered = filterLogits(logits, V, opts);
  const rows = filtered.length / V;
  const tokens = new Int32Array(rows);
  const p = new Float64Array(V);
  for (let r = 0; r < rows; r++) {
    softmaxRow(filtered.subarray(r * V, (r + 1) * V), p);
    tokens[r] = sampleIndex(p, rng);
  }
  return { tokens, filtered };
}

/**
 * The official "more smooth" preview weights (`gumbel_softmax_with_rng`, hard=False):
 * `softmax((logits + g) / tau)` per row with Gumbel noise `g = -log(E)`, `E ~ Exp(1)`
 * drawn as `-log(1 - u)` from one `rng.random()` per entry (row-major). Entries at
 * `-Infinity` get weight 0. Returns float64 weights of the same length.
 */
export function gumbelSoftmax(logits: ArrayLike<number>, V: number, tau: number, rng: RandomSource): Float64Array {
  const rows = assertRows(logits, V);
  if (!(tau > 0)) throw new ValueError(`gumbel-softmax temperature must be > 0; got ${tau}`);
  const out = new Float64Array(logits.length);
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    for (let i = 0; i < V; i++) {
      let e = -Math.log1p(-rng.random());
      if (e <= 0) e = Number.MIN_VALUE;
      out[o + i] = (logits[o + i] - Math.log(e)) / tau;
    }
    const row = out.subarray(o, o + V);
    softmaxRow(row, row);
  }
  return out;
}

/** Temperature of the official "more smooth" Gumbel-softmax at stage ratio `si/(S-1)`. */
export function smoothTemperature(ratio: number): number {
  return Math.max(0.27 * (1 - ratio * 0.95), 0.005);
}
