/**
 * The Google emoji of the npm package `emoji-datasource-google` (16.0.0): 64×64 PNGs in
 * `img/google/64/`, described by `emoji.json` (one entry per emoji, with its `category`).
 */
import { ValueError } from '@var/core';
import { DataIOError, decodeImage, isNode, readBytes, type ImageDataset, type RawImage } from '@var/data';
import { assertIndex } from './index-check.js';

/**
 * The 9 picture categories of emoji-datasource 16, sorted: label = index here.
 * `Component` (5 entries: the skin-tone swatches and hair-style parts) is not a picture
 * category and is left out unless asked for.
 */
export const EMOJI_CATEGORIES = [
  'Activities',
  'Animals & Nature',
  'Flags',
  'Food & Drink',
  'Objects',
  'People & Body',
  'Smileys & Emotion',
  'Symbols',
  'Travel & Places',
] as const;

/** Side of the emoji PNGs used. */
export const EMOJI_SIZE = 64;

/** One emoji as listed in `emoji.json` (the fields used here). */
export interface EmojiInfo {
  /** Unicode name, e.g. "GRINNING FACE". */
  name: string;
  /** Code points, e.g. "1F600", or "1F44B-1F3FB" for a skin-tone variant. */
  unified: string;
  short_name: string;
  category: string;
  subcategory: string;
  sort_order: number;
  /** File name in `img/google/64/`. */
  image: string;
}

interface EmojiEntry extends EmojiInfo {
  has_img_google?: boolean;
  skin_variations?: Record<string, { unified: string; image: string; has_img_google?: boolean }>;
}

export interface EmojiOptions {
  /** Categories to include (default: the 9 of {@link EMOJI_CATEGORIES}); labels follow their sorted order. */
  categories?: readonly string[];
  /** Also include the skin-tone variants of people emoji (1,875 more images); default false. */
  includeSkinTones?: boolean;
  /**
   * Where the package's files are: a folder path in Node (default: the installed
   * `emoji-datasource-google` package) or a URL prefix in a browser (required there;
   * serve `emoji.json` and `img/google/64/` under it).
   */
  root?: string;
}

export interface EmojiDataset extends ImageDataset {
  /** The emoji, in dataset order. */
  readonly items: readonly EmojiInfo[];
}

async function defaultRoot(): Promise<string> {
  if (!isNode()) {
    throw new DataIOError(
      'emoji-datasource-google',
      'emojiDataset: in a browser pass options.root, a URL under which emoji.json and img/google/64/ are served',
    );
  }
  const { createRequire } = await import('node:module');
  const { dirname } = await import('node:path');
  try {
    return dirname(createRequire(import.meta.url).resolve('emoji-datasource-google/package.json'));
  } catch (err) {
    throw new DataIOError(
      'emoji-datasource-google',
      'emojiDataset: the package emoji-datasource-google is not installed (it is a dependency of @var/datasets; reinstall @var/datasets, or pass options.root)',
      {
        cause: err,
      },
    );
  }
}

function join(root: string, rel: string): string {
  return root.endsWith('/') ? root + rel : `${root}/${rel}`;
}

/**
 * The emoji of `emoji-datasource-google` labelled by category: by default the 1,906 base
 * emoji of the 9 picture categories (Activities 85, Animals & Nature 159, Flags 270,
 * Food & Drink 131, Objects 264, People & Body 386, Smileys & Emotion 169, Symbols 224,
 * Travel & Places 218), 64×64, decoded on demand (RGBA, or gray+alpha / palette PNGs
 * expanded: convert with `convertChannels`/`imageToTensor`, which composite alpha over
 * white by default). Ordered by the package's `sort_order`.
 *
 * @throws ValueError for an unknown category; DataIOError when the package's files cannot be read.
 */
export async function emojiDataset(options: EmojiOptions = {}): Promise<EmojiDataset> {
  const root = options.root ?? (await defaultRoot());
  const json = new TextDecoder().decode(await readBytes(join(root, 'emoji.json')));
  let entries: EmojiEntry[];
  try {
    entries = JSON.parse(json) as EmojiEntry[];
    if (!Array.isArray(entries)) throw new Error('not an array');
  } catch (err) {
    throw new DataIOError(
      join(root, 'emoji.json'),
      `emojiDataset: ${join(root, 'emoji.json')} is not the emoji list: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const known = [...new Set(entries.map((e) => e.category))].sort();
  const wanted = [...new Set(options.categories ?? EMOJI_CATEGORIES)].sort();
  for (const c of wanted) {
    if (!known.includes(c))
      throw new ValueError(
        `emojiDataset: unknown category ${JSON.stringify(c)}; the package has ${known.map((k) => JSON.stringify(k)).join(', ')}`,
      );
  }
  const labelOf = new Map(wanted.map((c, i) => [c, i]));
  const items: EmojiInfo[] = [];
  const sorted = entries.filter((e) => labelOf.has(e.category) && e.has_img_google !== false).sort((a, b) => a.sort_order - b.sort_order);
  for (const e of sorted) {
    const base: EmojiInfo = {
      name: e.name,
      unified: e.unified,
      short_name: e.short_name,
      category: e.category,
      subcategory: e.subcategory,
      sort_order: e.sort_order,
      image: e.image,
    };
    items.push(base);
    if (options.includeSkinTones && e.skin_variations) {
      for (const v of Object.values(e.skin_variations)) {
        if (v.has_img_google === false) continue;
        items.push({ ...base, unified: v.unified, image: v.image });
      }
    }
  }
  const labels = Int32Array.from(items, (it) => labelOf.get(it.category)!);
  const ds: EmojiDataset = {
    name: 'emoji',
    length: items.length,
    classNames: wanted,
    labels,
    items,
    key(i) {
      assertIndex(ds, i);
      return items[i].unified;
    },
    async get(i): Promise<RawImage> {
      assertIndex(ds, i);
      const path = join(root, `img/google/${EMOJI_SIZE}/${items[i].image}`);
      return decodeImage(await readBytes(path), { source: path });
    },
  };
  return ds;
}
