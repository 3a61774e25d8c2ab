/**
 * Tensor comparison that reports max abs / max rel error and where they occur.
 */
import type { FixtureTensor } from './fixtures.js';

export interface CompareReport {
  /** Number of elements compared. */
  size: number;
  maxAbs: number;
  /** Flat index and multi-index of the max abs error. */
  maxAbsAt: { flat: number; index: number[]; actual: number; expected: number };
  /** Max of |a-e| / max(|e|, tiny). */
  maxRel: number;
  maxRelAt: { flat: number; index: number[]; actual: number; expected: number };
  /** ||a-e||_2 / ||e||_2 (norm-wise relative error). */
  relNorm: number;
  /** Number of NaN/Inf mismatches (a NaN where the expectation is finite, or vice versa). */
  nonFinite: number;
}

type NumArray = ArrayLike<number>;

function unravel(flat: number, shape: number[]): number[] {
  const idx = new Array(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = flat % shape[d];
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

/** Compare `actual` against `expected` elementwise. Shapes must have equal size. */
export function compareArrays(actual: NumArray, expected: NumArray, shape: number[] = [expected.length]): CompareReport {
  if (actual.length !== expected.length) {
    throw new Error(
      `compareArrays: size mismatch: actual ${actual.length} vs expected ${expected.length} (shape ${JSON.stringify(shape)})`,
    );
  }
  let maxAbs = 0,
    maxAbsI = 0,
    maxRel = 0,
    maxRelI = 0,
    diff2 = 0,
    ref2 = 0,
    nonFinite = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i],
      e = expected[i];
    if (!Number.isFinite(a) || !Number.isFinite(e)) {
      if (!(a === e || (Number.isNaN(a) && Number.isNaN(e)))) nonFinite++;
      continue;
    }
    const d = Math.abs(a - e);
    diff2 += d * d;
    ref2 += e * e;
    if (d > maxAbs) {
      maxAbs = d;
      maxAbsI = i;
    }
    const r = d / Math.max(Math.abs(e), 1e-12);
    if (r > maxRel) {
      maxRel = r;
      maxRelI = i;
    }
  }
  return {
    size: expected.length,
    maxAbs,
    maxAbsAt: { flat: maxAbsI, index: unravel(maxAbsI, shape), actual: actual[maxAbsI], expected: expected[maxAbsI] },
    maxRel,
    maxRelAt: { flat: maxRelI, index: unravel(maxRelI, shape), actual: actual[maxRelI], expected: expected[maxRelI] },
    relNorm: ref2 > 0 ? Math.sqrt(diff2) / Math.sqrt(ref2) : Math.sqrt(diff2),
    nonFinite,
  };
}

export function formatReport(name: string, r: CompareReport): string {
  return (
    `${name}: maxAbs=${r.maxAbs.toExponential(3)} at [${r.maxAbsAt.index}] (got ${r.maxAbsAt.actual}, want ${r.maxAbsAt.expected}); ` +
    `maxRel=${r.maxRel.toExponential(3)} at [${r.maxRelAt.index}]; relNorm=${r.relNorm.toExponential(3)}; nonFinite=${r.nonFinite}; n=${r.size}`
  );
}

/**
 * Assert `actual` matches a fixture tensor within `atol` max abs error (and shape, if given).
 * Throws an Error carrying the full report. Returns the report for logging.
 */
export function expectClose(
  name: string,
  actual: { data: NumArray; shape?: number[] } | NumArray,
  expected: FixtureTensor | { data: NumArray; shape: number[] },
  atol: number,
): CompareReport {
  const a = 'data' in (actual as any) ? (actual as { data: NumArray; shape?: number[] }) : { data: actual as NumArray };
  if (a.shape && JSON.stringify(a.shape) !== JSON.stringify(expected.shape)) {
    throw new Error(`${name}: shape ${JSON.stringify(a.shape)} != expected ${JSON.stringify(expected.shape)}`);
  }
  const r = compareArrays(a.data, expected.data as NumArray, expected.shape);
  if (!(r.maxAbs <= atol) || r.nonFinite > 0) {
    throw new Error(`${formatReport(name, r)} exceeds atol=${atol}`);
  }
  return r;
}

/** Assert two integer arrays are identical; reports the first differences. */
export function expectEqualInts(name: string, actual: NumArray, expected: NumArray): void {
  if (actual.length !== expected.length) throw new Error(`${name}: length ${actual.length} != ${expected.length}`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      count++;
      if (bad.length < 8) bad.push(`[${i}] got ${actual[i]} want ${expected[i]}`);
    }
  }
  if (count) throw new Error(`${name}: ${count}/${expected.length} differ: ${bad.join(', ')}`);
}
