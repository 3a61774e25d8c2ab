import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IMAGENET_CLASSES, classIndex, className, imagenetClassFields, parseModelCard, presetCard } from '../src/index.js';

const digits = { classNames: Array.from({ length: 10 }, (_, i) => String(i)), numClasses: 10 };

describe('classIndex', () => {
  it('takes indices, digit strings, names and uncond, and rejects the rest with the range', () => {
    expect(classIndex(digits, 3)).toBe(3);
    expect(classIndex(digits, '7')).toBe(7);
    expect(classIndex(digits, ' uncond ')).toBe(10);
    expect(classIndex(digits, 10)).toBe(10);
    expect(() => classIndex(digits, 11)).toThrow(/out of range: expected an integer 0…9, or 10/);
    expect(() => classIndex(digits, 2.5)).toThrow(/out of range/);
    expect(() => classIndex(digits, 'seven')).toThrow(/unknown class "seven".*0, 1, 2/);
    expect(() => classIndex(digits, '12')).toThrow(/unknown class/);
  });

  it('resolves every ImageNet synonym of the official presets, case-insensitively', () => {
    const card = presetCard('d16');
    const v = { ...card, numClasses: card.var.config.numClasses };
    expect(card.classNames).toHaveLength(1000);
    expect(card.classNames[207]).toBe('golden retriever');
    expect(classIndex(v, 'Golden Retriever')).toBe(207);
    expect(classIndex(v, 'goldfish')).toBe(1);
    expect(classIndex(v, 'Carassius auratus')).toBe(1);
    expect(classIndex(v, 'man-eater')).toBe(2);
    expect(classIndex(v, '207')).toBe(207);
    expect(className(v, 88)).toBe('macaw');
    expect(className(v, 1000)).toBe('uncond');
  });

  it('names both indices when two ImageNet classes share a name', () => {
    const card = presetCard('d20');
    const v = { ...card, numClasses: 1000 };
    expect(() => classIndex(v, 'crane')).toThrow(/"crane" is ambiguous: 134 \(crane\) and 517 \(crane\); give the index/);
    expect(classIndex(v, 'tank suit')).toBe(639);
  });
});

describe('ImageNet class names', () => {
  it('has 1000 non-empty entries in the official label order', () => {
    expect(IMAGENET_CLASSES).toHaveLength(1000);
    // the bird (134) and the machine (517) are both just 'crane'
    expect(new Set(IMAGENET_CLASSES).size).toBe(999);
    expect(IMAGENET_CLASSES.every((s) => s.trim().length > 0)).toBe(true);
    expect(IMAGENET_CLASSES[0]).toBe('tench, Tinca tinca');
    expect(IMAGENET_CLASSES[999]).toMatch(/^toilet tissue/);
    const f = imagenetClassFields();
    expect(f.classAliases[2]).toEqual(['great white shark', 'white shark', 'man-eater', 'man-eating shark', 'Carcharodon carcharias']);
  });

  it('is what the generator script writes from @tensorflow-models/mobilenet', () => {
    const out = execFileSync(process.execPath, [join(__dirname, '..', 'scripts', 'imagenet-classes.mjs'), '--check'], { encoding: 'utf8' });
    expect(out).toMatch(/up to date/);
  });

  it('a card with malformed classAliases is refused', () => {
    const card = { ...presetCard('d16'), classAliases: [['x']] };
    expect(() => parseModelCard(JSON.parse(JSON.stringify(card)), 'card.json')).toThrow(/"classAliases" must be an array of 1000 arrays/);
  });
});
