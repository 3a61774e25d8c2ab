/**
 * Soak: many generations of the fixture case's models in one process keep
 * tf.memory().numTensors unchanged after every call and the process RSS bounded. The CI run does
 * SOAK_N generations (default 300, about 30 s of CPU); `experiments/soak.mjs` runs the full 1,000
 * against the built packages and prints the RSS at the start, after 100 and at the end.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFixtureCase } from '@var/test-helpers';
import { generate } from '../src/index.js';
import { soakGenerateOptions } from '../../../tooling/soak-options.mjs';
import { useBackend } from './backend.js';
import { loadModels, type Models } from './models.js';

const fc = loadFixtureCase();
const N = Number(process.env.SOAK_N ?? 300);
const numClasses: number = fc.config.VAR.num_classes;
const labels = Array.from({ length: fc.config.batch ?? 2 }, (_, i) => (i * 3) % (numClasses + 1));

let m: Models;
beforeAll(async () => {
  if (await useBackend('wasm')) expect(await useBackend('cpu')).toBeNull();
  m = await loadModels(fc);
});
afterAll(() => m?.dispose());

describe('soak', () => {
  it(`${N} generations: the tensor count never moves and RSS stays bounded`, async () => {
    const mib = () => process.memoryUsage().rss / 2 ** 20;
    const base = tf.memory().numTensors;
    const rss: Record<string, number> = { start: mib() };
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    let moved = 0;
    for (let i = 0; i < N; i++) {
      const full = i % 50 === 0; // every 50th decodes the image and streams previews
      const r = await generate(m.vae, m.model, soakGenerateOptions(i, labels, full));
      tf.dispose([r.fHat, ...(r.images ? [r.images] : [])]);
      if (tf.memory().numTensors !== base) moved++;
      if (i + 1 === 100) rss.after100 = mib();
    }
    rss.end = mib();
    const cpu = process.cpuUsage(cpu0);
    console.log(
      `soak: ${N} generations in ${((performance.now() - t0) / 1000).toFixed(1)} s wall, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU; ` +
        `RSS start ${rss.start.toFixed(1)} MiB, after 100 ${rss.after100?.toFixed(1)} MiB, end ${rss.end.toFixed(1)} MiB`,
    );
    expect(moved).toBe(0);
    expect(tf.memory().numTensors).toBe(base);
    // after the warm-up (first 100), memory must not keep growing
    if (rss.after100 !== undefined) expect(rss.end - rss.after100).toBeLessThan(48);
  }, 600_000);
});
