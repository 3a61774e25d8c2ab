/**
 * Class references: a label given as its index, its name, one of its synonyms (the official
 * presets answer to every ImageNet synonym: `'goldfish'`, `'Carassius auratus'`) or
 * `'uncond'`. The one resolver of the CLI, the pipeline and the web demo.
 */
import { ValueError } from '@var/core/errors';
import type { ModelCard } from './card.js';
import { IMAGENET_CLASSES } from './imagenet-classes.js';

/** What a class reference is resolved against: a model card's names and its class count. */
export type ClassVocabulary = Pick<ModelCard, 'classNames' | 'classAliases'> & { numClasses: number };

/** A class: its label (`numClasses` = unconditional), its name, a synonym, or `'uncond'`. */
export type ClassRef = number | string;

/** The ImageNet-1k classes as card fields: short names (the first synonym) and every synonym per class. */
export function imagenetClassFields(): { classNames: string[]; classAliases: string[][] } {
  const aliases = IMAGENET_CLASSES.map((s) => s.split(',').map((t) => t.trim()));
  return { classNames: aliases.map((a) => a[0]), classAliases: aliases };
}

function listed(v: ClassVocabulary): string {
  const n = v.classNames;
  return n.length <= 20 ? n.join(', ') : `${n.slice(0, 20).join(', ')}, …`;
}

/**
 * The label of a class reference: an integer index (0…numClasses-1, or numClasses for
 * unconditional), a digit string, `'uncond'` / `'none'`, a class name or a synonym
 * (case-insensitive).
 * @throws ValueError for an unknown or out-of-range class, or a name two classes share (naming both indices).
 */
export function classIndex(v: ClassVocabulary, ref: ClassRef): number {
  const n = v.numClasses;
  if (typeof ref === 'number') {
    if (Number.isInteger(ref) && ref >= 0 && ref <= n) return ref;
    throw new ValueError(`class ${ref} is out of range: expected an integer 0…${n - 1}, or ${n} (unconditional)`);
  }
  if (typeof ref === 'string') {
    const s = ref.trim().toLowerCase();
    if (s === 'uncond' || s === 'none') return n;
    const hits: number[] = [];
    for (let i = 0; i < n; i++) {
      const names = [v.classNames[i] ?? String(i), ...(v.classAliases?.[i] ?? [])];
      if (names.some((x) => x.toLowerCase() === s)) hits.push(i);
    }
    if (hits.length === 1) return hits[0];
    if (hits.length > 1)
      throw new ValueError(
        `class name ${JSON.stringify(ref.trim())} is ambiguous: ${hits.map((i) => `${i} (${v.classAliases?.[i]?.join(', ') ?? v.classNames[i]})`).join(' and ')}; give the index`,
      );
    if (/^\d+$/.test(s) && Number(s) < n) return Number(s);
  }
  throw new ValueError(`unknown class ${JSON.stringify(ref)}: expected an index 0…${n - 1}, "uncond", or a class name (${listed(v)})`);
}

/** The display name of a label (`'uncond'` for the unconditional class). */
export function className(v: ClassVocabulary, label: number): string {
  return label === v.numClasses ? 'uncond' : (v.classNames[label] ?? String(label));
}
