/**
 * A folder of images (Node): one sub-folder per class (as torchvision's ImageFolder), or
 * a flat folder of images for an unconditional dataset.
 */
import { ValueError } from '@var/core';
import { decodeImage, type RawImage } from '../codec.js';
import { assertIndex, type ImageDataset } from '../dataset.js';
import { DataIOError } from '../errors.js';
import { nodeFs, readBytes } from '../io.js';

/** File extensions taken as images (case-insensitive). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

export interface ImageFolderOptions {
  /** Extensions taken as images, lower case with the dot (default {@link IMAGE_EXTENSIONS}). */
  extensions?: readonly string[];
}

export interface ImageFolderDataset extends ImageDataset {
  /** The folder, as given. */
  readonly root: string;
  /** `'classes'` (one sub-folder per class) or `'flat'` (unconditional). */
  readonly layout: 'classes' | 'flat';
  /** Image paths relative to `root` ('/'-separated), in dataset order. */
  readonly files: readonly string[];
  /** What was left out, one line each: `"<relative path>: <reason>"`. */
  readonly skipped: readonly string[];
}

/** Code-point order (as Python's `sorted`), independent of locale. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i].codePointAt(0)! - y[i].codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

/**
 * Scan `dir`. If it has sub-folders, each (sorted by name, code-point order) is a class,
 * label = its index, and its images are found recursively; image files directly in `dir`
 * are then skipped. Without sub-folders, the images in `dir` form an unconditional
 * dataset (`classNames` empty, every label 0). Files without an image extension, hidden
 * entries (starting with '.') and class folders with no image are skipped and listed in
 * `skipped`. Files are sorted, so the order is the same on every machine. Images are
 * decoded when read (`get`); a file that is not a valid image then throws ImageFormatError.
 *
 * @throws DataIOError when `dir` cannot be read; ValueError when it holds no image.
 */
export async function imageFolderDataset(dir: string, options: ImageFolderOptions = {}): Promise<ImageFolderDataset> {
  const { fs, path } = await nodeFs(dir);
  const exts = (options.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase());
  const skipped: string[] = [];
  const isImage = (name: string) => exts.includes(path.extname(name).toLowerCase());

  const list = async (rel: string) => {
    const abs = path.join(dir, rel);
    try {
      return (await fs.readdir(abs, { withFileTypes: true })).sort((a, b) => byCodePoint(a.name, b.name));
    } catch (err) {
      const e = err as { code?: string; message?: string };
      throw new DataIOError(abs, `imageFolderDataset: cannot read folder ${abs}: ${e.code ? `${e.code}: ` : ''}${e.message}`, {
        cause: err,
      });
    }
  };
  const posix = (...parts: string[]) => parts.filter((p) => p !== '').join('/');

  // Image files under rel (recursively), relative to dir.
  const walk = async (rel: string, out: string[]) => {
    for (const ent of await list(rel)) {
      const r = posix(rel, ent.name);
      if (ent.name.startsWith('.')) skipped.push(`${r}: hidden`);
      else if (ent.isDirectory()) await walk(r, out);
      else if (!ent.isFile()) skipped.push(`${r}: not a regular file`);
      else if (isImage(ent.name)) out.push(r);
      else skipped.push(`${r}: not an image (extension ${JSON.stringify(path.extname(ent.name))}, expected ${exts.join(', ')})`);
    }
  };

  const top = await list('');
  const subdirs = top.filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  const files: string[] = [];
  const labelList: number[] = [];
  const classNames: string[] = [];
  let layout: 'classes' | 'flat';
  if (subdirs.length > 0) {
    layout = 'classes';
    for (const ent of top) {
      if (ent.isDirectory() && !ent.name.startsWith('.')) continue;
      skipped.push(`${ent.name}: ${ent.name.startsWith('.') ? 'hidden' : 'outside the class folders'}`);
    }
    for (const sub of subdirs) {
      const found: string[] = [];
      await walk(sub.name, found);
      if (found.length === 0) {
        skipped.push(`${sub.name}/: class folder without images (not a class)`);
        continue;
      }
      const label = classNames.length;
      classNames.push(sub.name);
      for (const f of found) {
        files.push(f);
        labelList.push(label);
      }
    }
  } else {
    layout = 'flat';
    for (const ent of top) {
      if (ent.name.startsWith('.')) skipped.push(`${ent.name}: hidden`);
      else if (!ent.isFile()) skipped.push(`${ent.name}: not a regular file`);
      else if (isImage(ent.name)) {
        files.push(ent.name);
        labelList.push(0);
      } else skipped.push(`${ent.name}: not an image (extension ${JSON.stringify(path.extname(ent.name))}, expected ${exts.join(', ')})`);
    }
  }
  if (files.length === 0) {
    throw new ValueError(
      `imageFolderDataset: no images (${exts.join(', ')}) in ${dir}${skipped.length ? `; skipped: ${skipped.slice(0, 5).join('; ')}${skipped.length > 5 ? '; …' : ''}` : ' (the folder is empty)'}`,
    );
  }
  const labels = Int32Array.from(labelList);
  const ds: ImageFolderDataset = {
    name: dir,
    root: dir,
    layout,
    length: files.length,
    classNames,
    labels,
    files,
    skipped,
    key(i) {
      assertIndex(ds, i);
      return files[i];
    },
    async get(i): Promise<RawImage> {
      assertIndex(ds, i);
      const p = path.join(dir, ...files[i].split('/'));
      return decodeImage(await readBytes(p), { source: p });
    },
  };
  return ds;
}
