/**
 * The dataset abstraction: an indexed, lazily decoded list of labelled images, with
 * seeded views (subsets, shuffles, stratified train/held-out splits).
 */
import { ShapeError, ValueError } from '@var/core';
import type { RawImage } from './codec.js';
import { permutation, rngFor } from './random.js';

/**
 * An indexed list of labelled images. Images are decoded on demand by `get`, so a
 * dataset costs little memory until it is read.
 */
export interface ImageDataset {
  /** Human-readable name ("mnist", "emoji", the folder path, …). */
  readonly name: string;
  /** Number of images. */
  readonly length: number;
  /** Class names, index = label. Empty for an unconditional dataset. */
  readonly classNames: readonly string[];
  /** Label of each image (0 for every image of an unconditional dataset). */
  readonly labels: Int32Array;
  /** A stable identifier of image `i` (relative path, emoji code point, …). */
  key(i: number): string;
  /** Decode image `i` (0 ≤ i < length). */
  get(i: number): Promise<RawImage>;
}

export function assertIndex(ds: { length: number; name: string }, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.length) {
    throw new ValueError(`${ds.name}: index must be an integer in 0…${ds.length - 1}; got ${i}`);
  }
}

/** Number of images per label (length = max(1, classNames.length)). */
export function classCounts(ds: ImageDataset): number[] {
  const counts = new Array<number>(Math.max(1, ds.classNames.length)).fill(0);
  for (const l of ds.labels) counts[l]++;
  return counts;
}

/**
 * A view of `ds` restricted to `indices` (in that order; duplicates allowed).
 * @throws ValueError for an index out of range.
 */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = `${ds.name}[subset]`): ImageDataset {
  const idx = Int32Array.from(indices as ArrayLike<number>);
  for (const i of idx) assertIndex(ds, i);
  const labels = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) labels[k] = ds.labels[idx[k]];
  const view: ImageDataset = {
    name,
    length: idx.length,
    classNames: ds.classNames,
    labels,
    key: (i) => {
      assertIndex(view, i);
      return ds.key(idx[i]);
    },
    get: async (i) => {
      assertIndex(view, i);
      return ds.get(idx[i]);
    },
  };
  return view;
}

/** The order of epoch `epoch` under `seed`: a seeded permutation of 0…n−1 (the same on every run). */
export function shuffledIndices(n: number, seed: number, epoch = 0): Int32Array {
  if (!Number.isInteger(n) || n < 0) throw new ValueError(`shuffledIndices: n must be a non-negative integer; got ${n}`);
  return permutation(n, rngFor(seed, 'shuffle', epoch));
}

/** A view of `ds` in a seeded random order. */
export function shuffleDataset(ds: ImageDataset, seed: number, epoch = 0): ImageDataset {
  return subset(ds, shuffledIndices(ds.length, seed, epoch), `${ds.name}[shuffled seed=${seed}]`);
}

export interface SplitOptions {
  /** Fraction of images held out, in [0, 1). */
  heldOutFraction: number;
  /** Seed of the split (default 0). */
  seed?: number;
  /**
   * Split each class separately so both parts keep the class proportions (default: true
   * when the dataset has classes). Class c holds out `round(n_c · heldOutFraction)` images.
   */
  stratify?: boolean;
}

export interface Split {
  train: ImageDataset;
  heldOut: ImageDataset;
  /** Indices into the original dataset, ascending. */
  trainIndices: Int32Array;
  heldOutIndices: Int32Array;
}

/**
 * Deterministic, disjoint train/held-out split. Every image is in exactly one part; the
 * result depends only on the dataset (its order and labels), `seed`, `heldOutFraction`
 * and `stratify`, so it is the same on every run. Both parts keep the dataset's order.
 *
 * @throws ValueError for a fraction outside [0, 1) or an empty dataset.
 */
export function splitDataset(ds: ImageDataset, options: SplitOptions): Split {
  const f = options?.heldOutFraction;
  if (typeof f !== 'number' || !(f >= 0 && f < 1)) {
    throw new ValueError(`splitDataset: heldOutFraction must be a number in [0, 1); got ${JSON.stringify(f)}`);
  }
  if (ds.length === 0) throw new ShapeError(`splitDataset: dataset ${ds.name} is empty`);
  const seed = options.seed ?? 0;
  const stratify = options.stratify ?? ds.classNames.length > 0;
  const groups: number[][] = [];
  if (stratify) {
    for (let i = 0; i < ds.length; i++) (groups[ds.labels[i]] ??= []).push(i);
  } else {
    groups.push(Array.from({ length: ds.length }, (_, i) => i));
  }
  const held = new Uint8Array(ds.length);
  groups.forEach((members, g) => {
    if (!members) return;
    const order = rngFor(seed, 'split', g).shuffle(members.slice());
    const k = Math.round(members.length * f);
    for (let j = 0; j < k; j++) held[order[j]] = 1;
  });
  const trainIdx: number[] = [];
  const heldIdx: number[] = [];
  for (let i = 0; i < ds.length; i++) (held[i] ? heldIdx : trainIdx).push(i);
  const trainIndices = Int32Array.from(trainIdx);
  const heldOutIndices = Int32Array.from(heldIdx);
  return {
    train: subset(ds, trainIndices, `${ds.name}[train]`),
    heldOut: subset(ds, heldOutIndices, `${ds.name}[held-out]`),
    trainIndices,
    heldOutIndices,
  };
}

/**
 * A view of `ds` that keeps every image it has decoded in memory, so later epochs do not
 * read or decode files again (emoji: 1,906 × 64×64×4 bytes ≈ 31 MB). A failed read is
 * not cached.
 */
export function cacheDataset(ds: ImageDataset): ImageDataset {
  const cache = new Map<number, Promise<RawImage>>();
  return {
    name: ds.name,
    length: ds.length,
    classNames: ds.classNames,
    labels: ds.labels,
    key: (i) => ds.key(i),
    get(i) {
      let p = cache.get(i);
      if (!p) {
        p = ds.get(i);
        cache.set(i, p);
        p.catch(() => cache.delete(i));
      }
      return p;
    },
  };
}
