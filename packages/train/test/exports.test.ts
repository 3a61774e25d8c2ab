/**
 * @var/train exports its API, not its helpers: every value it exports is named in its README
 * (the API table and guides), and the helpers its modules share stay inside the package.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as train from '../src/index.js';

const readme = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'README.md'), 'utf8');

/** Module-internal helpers (file names, hashing, JSON diffs, clocks, config plumbing). */
const HELPERS = [
  'CONFIG_FILE',
  'CHECKPOINT_FILE',
  'LOG_FILE',
  'MODEL_FILE',
  'CHECKPOINT_FORMAT',
  'CHECKPOINT_VERSION',
  'exists',
  'writeTextAtomic',
  'canonicalJson',
  'sha256',
  'jsonDiff',
  'removeStaleTemporaries',
  'resolveSettings',
  'SessionClock',
  'round',
  'formatDuration',
  'digitFitFor',
  'spreadIndices',
  'tokenizerRunConfig',
  'varModelConfig',
];

describe('@var/train exports', () => {
  it('the trainers, run directories, evaluation, quality and the official formats are exported', () => {
    for (const n of [
      'trainTokenizer',
      'trainVAR',
      'prepareRunDir',
      'readRunConfig',
      'loadCheckpoint',
      'evalImages',
      'evaluateDigitModel',
      'loadDataset',
      'writeOfficialModel',
      'exportOfficialTrainerCheckpoint',
      'importOfficialTrainerCheckpoint',
    ]) {
      expect(typeof (train as Record<string, unknown>)[n], n).toBe('function');
    }
  });

  it('every exported value is documented in the README', () => {
    const undocumented = Object.keys(train).filter((n) => !new RegExp('`' + n + '(?![\\w$])').test(readme));
    expect(undocumented, 'exports of @var/train its README does not name (document them, or stop exporting them)').toEqual([]);
  });

  it('no module-internal helper is exported', () => {
    expect(Object.keys(train).filter((n) => HELPERS.includes(n))).toEqual([]);
  });
});
