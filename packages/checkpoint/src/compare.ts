/**
 * Compare a state dict against an expected key → shape table (for example the
 * `official-shapes/*.json` files describing the released VAR checkpoints).
 */
import { CheckpointError, ValueError } from '@var/core/errors';
import { fmtShape, type RawTensor, type StateDict } from './dtypes.js';

/** Names → dtypes and shapes without data: what {@link compareStateDict} reads (a StateDict, or an open checkpoint's `entries`). */
export type TensorShapes = ReadonlyMap<string, Pick<RawTensor, 'dtype' | 'shape'>>;

/** The format of `official-shapes/*.json`: `state_dict` maps key → {shape, dtype}. Other fields are ignored. */
export interface ExpectedShapesFile {
  state_dict: Record<string, { shape: number[]; dtype?: string }>;
  checkpoint?: string;
  [extra: string]: unknown;
}

export type ExpectedShapes = Record<string, number[]> | Record<string, { shape: number[]; dtype?: string }> | ExpectedShapesFile;

export interface ShapeMismatch {
  key: string;
  expected: number[];
  found: number[];
}

export interface DTypeMismatch {
  key: string;
  expected: string;
  found: string;
}

export interface StateDictReport {
  /** True when nothing is missing, unexpected or mismatched (dtypes count only with `{ dtype: true }`). */
  ok: boolean;
  /** Expected keys the state dict lacks. */
  missing: string[];
  /** Keys of the state dict that are not expected. */
  unexpected: string[];
  /** Keys present in both with different shapes. */
  mismatched: ShapeMismatch[];
  /** Keys present in both whose dtypes differ (only where the expectation names a dtype). */
  dtypeMismatched: DTypeMismatch[];
  /** Number of expected keys and of keys found. */
  expectedCount: number;
  foundCount: number;
  /** Name of the expectation (e.g. the `checkpoint` field of a shapes file), when known. */
  name?: string;
}

function normalize(expected: ExpectedShapes): { table: Map<string, { shape: number[]; dtype?: string }>; name?: string } {
  if (typeof expected !== 'object' || expected === null || Array.isArray(expected)) {
    throw new ValueError('compareStateDict: expected a key → shape object or a shapes file ({state_dict: {key: {shape, dtype}}})');
  }
  let src: Record<string, unknown> = expected as Record<string, unknown>;
  let name: string | undefined;
  const sd = (expected as ExpectedShapesFile).state_dict;
  if (sd && typeof sd === 'object' && !Array.isArray(sd)) {
    src = sd as Record<string, unknown>;
    const c = (expected as ExpectedShapesFile).checkpoint;
    if (typeof c === 'string') name = c;
  }
  const table = new Map<string, { shape: number[]; dtype?: string }>();
  for (const [k, v] of Object.entries(src)) {
    const entry = Array.isArray(v) ? { shape: v } : v && typeof v === 'object' ? (v as { shape: unknown; dtype?: unknown }) : null;
    if (!entry || !Array.isArray(entry.shape) || !entry.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new ValueError(
        `compareStateDict: expected shape of "${k}" must be an array of non-negative integers, found ${JSON.stringify(v)}`,
      );
    }
    table.set(k, { shape: entry.shape as number[], dtype: typeof entry.dtype === 'string' ? entry.dtype : undefined });
  }
  return { table, name };
}

/**
 * Compare `sd` against `expected`: a `{key: shape}` object, a `{key: {shape, dtype}}`
 * object or a whole shapes file (`{state_dict: {...}}`).
 * With `{ dtype: true }` dtype differences also make the report not ok.
 */
export function compareStateDict(sd: StateDict | TensorShapes, expected: ExpectedShapes, opts: { dtype?: boolean } = {}): StateDictReport {
  if (!(sd instanceof Map)) throw new ValueError('compareStateDict: the state dict must be a Map of name → RawTensor');
  const { table, name } = normalize(expected);
  const missing: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  const dtypeMismatched: DTypeMismatch[] = [];
  for (const [k, e] of table) {
    const t = sd.get(k);
    if (!t) {
      missing.push(k);
      continue;
    }
    if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
      mismatched.push({ key: k, expected: e.shape.slice(), found: t.shape.slice() });
    }
    if (e.dtype && e.dtype !== t.dtype) dtypeMismatched.push({ key: k, expected: e.dtype, found: t.dtype });
  }
  const unexpected = [...sd.keys()].filter((k) => !table.has(k));
  const ok = missing.length === 0 && unexpected.length === 0 && mismatched.length === 0 && (!opts.dtype || dtypeMismatched.length === 0);
  return { ok, missing, unexpected, mismatched, dtypeMismatched, expectedCount: table.size, foundCount: sd.size, name };
}

/** A readable multi-line summary of a report (at most `limit` lines per section). */
export function formatStateDictReport(r: StateDictReport, opts: { limit?: number } = {}): string {
  const limit = opts.limit ?? 20;
  const title = r.name ? ` against ${r.name}` : '';
  if (r.ok && r.dtypeMismatched.length === 0) return `state dict matches${title}: ${r.foundCount} tensors`;
  const lines: string[] = [
    `state dict ${r.ok ? 'matches' : 'does not match'}${title}: ${r.foundCount} tensors found, ${r.expectedCount} expected; ` +
      `${r.missing.length} missing, ${r.unexpected.length} unexpected, ${r.mismatched.length} with a wrong shape` +
      (r.dtypeMismatched.length ? `, ${r.dtypeMismatched.length} with another dtype` : ''),
  ];
  const section = <T>(head: string, items: T[], fmt: (x: T) => string) => {
    if (!items.length) return;
    lines.push(`${head} (${items.length}):`);
    for (const x of items.slice(0, limit)) lines.push(`  ${fmt(x)}`);
    if (items.length > limit) lines.push(`  … and ${items.length - limit} more`);
  };
  section('missing', r.missing, (k) => k);
  section('unexpected', r.unexpected, (k) => k);
  section('wrong shape', r.mismatched, (m) => `${m.key}: expected ${fmtShape(m.expected)}, found ${fmtShape(m.found)}`);
  section('other dtype', r.dtypeMismatched, (m) => `${m.key}: expected ${m.expected}, found ${m.found}`);
  return lines.join('\n');
}

/** Thrown when a state dict does not match the expected keys and shapes; `report` has the details. */
export class StateDictMismatchError extends CheckpointError {
  readonly report: StateDictReport;
  constructor(report: StateDictReport) {
    super(formatStateDictReport(report));
    this.report = report;
  }
}

/** Throw {@link StateDictMismatchError} unless `sd` matches `expected`; returns the report otherwise. */
export function assertStateDictMatches(sd: StateDict, expected: ExpectedShapes, opts: { dtype?: boolean } = {}): StateDictReport {
  const r = compareStateDict(sd, expected, opts);
  if (!r.ok) throw new StateDictMismatchError(r);
  return r;
}
