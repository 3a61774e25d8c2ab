import { presetCard } from '@var/models';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { className, parseClasses } from '../src/model.js';

describe('--class with the official presets', () => {
  const card = presetCard('d16');
  it('takes ImageNet names and synonyms beside indices (comma-separated or repeated)', () => {
    expect(parseClasses(['golden retriever,goldfish', '207', 'Carassius auratus'], card)).toEqual([207, 1, 207, 1]);
    expect(className(card, 207)).toBe('golden retriever');
    expect(parseClasses(['uncond'], card)).toEqual([1000]);
  });
  it('refuses unknown and ambiguous names as usage errors', () => {
    expect(() => parseClasses(['golden retrievr'], card)).toThrow(UsageError);
    expect(() => parseClasses(['crane'], card)).toThrow(/ambiguous: 134 \(crane\) and 517 \(crane\)/);
    expect(() => parseClasses(['1000x'], card)).toThrow(/unknown class/);
  });
});
