/**
 * The run directory of a training run and the files in it:
 *
 *   <run>/config.json              what the run trains (model config, training options, seed, dataset spec)
 *   <run>/checkpoint.safetensors   latest full state: weights, optimiser moments, RNG, data position
 *   <run>/log.jsonl                one JSON object per line: train steps, evaluations, events
 *   <run>/model.safetensors        the trained weights only (written at the end of the run)
 *
 * Every file except the log is written atomically (to a temporary file in the same folder,
 * then renamed), so a run killed at any moment leaves either the old or the new file, never
 * a torn one. The log is append-only; a line cut by a kill is dropped when the run resumes.
 */
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readFile, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, ValueError } from '@var/core';
import { DataIOError, writeFileAtomic } from '@var/data';
import type { StateDict } from '@var/checkpoint';

export const CONFIG_FILE = 'config.json';
export const CHECKPOINT_FILE = 'checkpoint.safetensors';
export const LOG_FILE = 'log.jsonl';
export const MODEL_FILE = 'model.safetensors';

/** Paths of the files of a run directory. */
export interface RunPaths {
  dir: string;
  config: string;
  checkpoint: string;
  log: string;
  model: string;
}

export function runPaths(dir: string): RunPaths {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValueError(`runDir must be a non-empty path; got ${JSON.stringify(dir)}`);
  return {
    dir,
    config: join(dir, CONFIG_FILE),
    checkpoint: join(dir, CHECKPOINT_FILE),
    log: join(dir, LOG_FILE),
    model: join(dir, MODEL_FILE),
  };
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** A failed run-directory write as a typed error naming the file and the system error code. */
function writeFailure(path: string, e: unknown): DataIOError {
  const code = (e as NodeJS.ErrnoException)?.code;
  return new DataIOError(path, `cannot write ${path}${code ? ` (${code})` : ''}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

/**
 * Write a text file atomically (@var/data's `writeFileAtomic`: a temporary file in the same
 * folder, then rename; parents created).
 * @throws DataIOError (cause: the system error, e.g. ENOSPC) — the previous file is intact and the temporary file removed
 */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await writeFileAtomic(path, text);
}

/** JSON with object keys sorted (a canonical form, for hashing and comparing configs). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort()
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

/** sha256 (hex) of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Paths (a.b[2].c) where two JSON values differ. */
export function jsonDiff(a: unknown, b: unknown, path = ''): string[] {
  const isObj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return [`${path || '(root)'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
    return a.flatMap((x, i) => jsonDiff(x, b[i], `${path}[${i}]`));
  }
  if (isObj(a) && isObj(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => jsonDiff(a[k], b[k], path ? `${path}.${k}` : k));
  }
  if (canonicalJson(a) === canonicalJson(b)) return [];
  return [`${path || '(root)'}: ${JSON.stringify(a)} (run dir) vs ${JSON.stringify(b)} (requested)`];
}

/**
 * The fields of a run config that determine the results (compared on resume). `run`
 * (checkpoint / eval / log intervals) may change between sessions.
 */
export interface RunConfigBase {
  kind: 'tokenizer' | 'var';
  version: number;
  seed: number;
  [key: string]: unknown;
}

/**
 * Temporary files of atomic writes: `.<name>.<pid>.<stamp>.tmp` (@var/core's `writeFileAtomic`,
 * which every package writes through) and `<name>.tmp-<pid>-<n>` (older versions).
 */
const TEMP_FILE = /^(?:\..+\.(\d+)\.[0-9a-z]+\.tmp|.+\.tmp-(\d+)-\d+)$/;

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Delete the temporary files a killed process left in a run directory (a SIGKILL during an
 * atomic write leaves its temporary file; the real file is intact). Files of a process that is
 * still running are kept. Returns the names removed.
 */
export async function removeStaleTemporaries(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = TEMP_FILE.exec(name);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (processAlive(pid)) continue;
    await unlink(join(dir, name)).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
}

/**
 * Create the run directory and its config.json, or check that an existing one matches.
 * Only the fields that determine the results are compared (everything but `run`).
 * @throws ConfigError listing every differing field when the run dir holds another config
 */
export async function prepareRunDir<C extends RunConfigBase>(dir: string, config: C): Promise<{ paths: RunPaths; existed: boolean }> {
  const paths = runPaths(dir);
  await mkdir(dir, { recursive: true });
  await removeStaleTemporaries(dir);
  const comparable = (c: Record<string, unknown>) => {
    const { run: _run, ...rest } = c;
    return JSON.parse(canonicalJson(rest)) as unknown;
  };
  if (await exists(paths.config)) {
    let old: Record<string, unknown>;
    try {
      old = JSON.parse(await readFile(paths.config, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`${paths.config} is not valid JSON (${(e as Error).message}); fix or delete it, or use another run directory`);
    }
    const diff = jsonDiff(comparable(old), comparable(config as Record<string, unknown>));
    if (diff.length) {
      throw new ConfigError(
        `the run directory ${dir} holds a run with another configuration, so it cannot be resumed with this one. Differences:\n  ${diff.join('\n  ')}\n` +
          'Use another run directory, or pass the configuration of config.json.',
      );
    }
    await writeTextAtomic(paths.config, JSON.stringify(sortKeys(config), null, 2) + '\n');
    return { paths, existed: true };
  }
  await writeTextAtomic(paths.config, JSON.stringify(sortKeys(config), null, 2) + '\n');
  return { paths, existed: false };
}

/** Read a run's config.json. */
export async function readRunConfig<C = RunConfigBase>(dir: string): Promise<C> {
  const p = runPaths(dir).config;
  let text: string;
  try {
    text = await readFile(p, 'utf8');
  } catch (e) {
    throw new ConfigError(`no run config at ${p} (${(e as Error).message}): is ${dir} a training run directory?`);
  }
  try {
    return JSON.parse(text) as C;
  } catch (e) {
    throw new ConfigError(`${p} is not valid JSON (${(e as Error).message})`);
  }
}

/** One line of log.jsonl. `type` is 'train' (a step), 'eval', or an event ('start', 'resume', 'checkpoint', 'end', 'tokens'). */
export interface LogRecord {
  type: string;
  step: number;
  [key: string]: unknown;
}

/** The JSONL log of a run (append-only). */
export class JsonlLog {
  constructor(readonly path: string) {}

  /**
   * Append records, one JSON line each.
   * @throws DataIOError (cause: the system error, e.g. ENOSPC); a partly written line is cut off again
   */
  async append(records: LogRecord | LogRecord[]): Promise<void> {
    const list = Array.isArray(records) ? records : [records];
    if (!list.length) return;
    const size = await stat(this.path).then(
      (s) => s.size,
      () => 0,
    );
    try {
      await appendFile(this.path, list.map((r) => JSON.stringify({ ...r, time: new Date().toISOString() })).join('\n') + '\n');
    } catch (e) {
      await truncate(this.path, size).catch(() => undefined); // no torn line left behind
      throw writeFailure(this.path, e);
    }
  }

  /** Every complete, parseable line (a line cut by a kill is skipped). */
  async read(): Promise<LogRecord[]> {
    return readLog(this.path);
  }

  /**
   * Keep the records up to `step` (those logged after the checkpoint being resumed are
   * dropped, as is a torn last line); rewritten atomically.
   */
  async truncateAfter(step: number): Promise<void> {
    if (!(await exists(this.path))) return;
    const keep = (await readLog(this.path)).filter((r) => !(typeof r.step === 'number' && r.step > step));
    await writeTextAtomic(this.path, keep.map((r) => JSON.stringify(r)).join('\n') + (keep.length ? '\n' : ''));
  }
}

/** Parse a log.jsonl file (skipping torn or invalid lines). */
export async function readLog(path: string): Promise<LogRecord[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return [];
  }
  const out: LogRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as LogRecord;
      if (r && typeof r === 'object' && typeof r.type === 'string') out.push(r);
    } catch {
      // a line cut by a kill
    }
  }
  return out;
}

/** Error messages of {@link readModelFile}, per kind of model. */
export interface ModelFileMessages {
  notFound: (path: string) => string;
  unfinished: (runDir: string) => string;
  noConfig: (file: string) => string;
}

/**
 * The weights of a finished run (`<runDir>/model.safetensors`) or a model file, its sha256, and its
 * config: from the file's metadata (`config`, as runs write it), else from a `model-card.json` beside
 * it whose `<cardKey>.file` names this file (a @var/models model directory). Shared by the
 * tokenizer and the VAR loaders; a missing file, an unfinished run or no config is a ConfigError.
 */
export async function readModelFile<C>(
  pathOrRunDir: string,
  cardKey: 'tokenizer' | 'var',
  msg: ModelFileMessages,
): Promise<{ file: string; hash: string; tensors: StateDict; config: C }> {
  const { basename, dirname } = await import('node:path');
  const { readSafetensors } = await import('@var/checkpoint');
  const st = await stat(pathOrRunDir).catch(() => undefined);
  if (!st) throw new ConfigError(msg.notFound(pathOrRunDir));
  let file = pathOrRunDir;
  if (st.isDirectory()) {
    file = join(pathOrRunDir, MODEL_FILE);
    if (!(await exists(file))) throw new ConfigError(msg.unfinished(pathOrRunDir));
  }
  const bytes = new Uint8Array(await readFile(file));
  const sf = await readSafetensors(bytes);
  let config: C | undefined;
  try {
    config = sf.metadata.config ? (JSON.parse(sf.metadata.config) as C) : undefined;
  } catch {
    config = undefined;
  }
  if (!config) {
    try {
      const card = JSON.parse(await readFile(join(dirname(file), 'model-card.json'), 'utf8')) as Record<
        string,
        { file?: string; config?: C } | undefined
      >;
      if (card[cardKey]?.file === basename(file)) config = card[cardKey]?.config;
    } catch {
      config = undefined;
    }
  }
  if (!config) throw new ConfigError(msg.noConfig(file));
  return { file, hash: sha256(bytes), tensors: sf.tensors, config };
}
