/**
 * Shared pieces of the paper-claims studies (scaling.mjs, raster-vs-var.mjs): the power-law
 * fit, the machine description, the plots, and the renderer of docs/paper-claims.md from
 * the studies' JSON results (docs/paper-claims/*.json). The markdown is never edited by hand:
 * `node experiments/paper-claims-lib.mjs` re-renders it from the JSON files.
 */
import { cpus, totalmem } from 'node:os';
import { readFile, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Least squares of log(y) = a + b·log(x): { exponent: b, coefficient: e^a, r2 } (natural logs). */
export function fitPowerLaw(xs, ys) {
  if (xs.length !== ys.length || xs.length < 2) throw new Error(`fitPowerLaw: need ≥ 2 paired points, got ${xs.length} and ${ys.length}`);
  for (const v of [...xs, ...ys])
    if (!(v > 0) || !Number.isFinite(v)) throw new Error(`fitPowerLaw: values must be finite and > 0, got ${v}`);
  const lx = xs.map(Math.log);
  const ly = ys.map(Math.log);
  const n = lx.length;
  const mx = lx.reduce((a, v) => a + v, 0) / n;
  const my = ly.reduce((a, v) => a + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (lx[i] - mx) * (ly[i] - my);
    sxx += (lx[i] - mx) ** 2;
    syy += (ly[i] - my) ** 2;
  }
  const b = sxy / sxx;
  const a = my - b * mx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ly[i] - (a + b * lx[i])) ** 2;
  return { exponent: b, coefficient: Math.exp(a), r2: syy > 0 ? 1 - sse / syy : 1, points: n };
}

/** The machine and software a study ran on. */
export async function machineInfo(backendInfo) {
  const pkg = JSON.parse(
    await readFile(fileURLToPath(new URL('./node_modules/@tensorflow/tfjs-core/package.json', import.meta.url)), 'utf8').catch(() => '{}'),
  );
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    tfjs: pkg.version ?? 'unknown',
    backend: backendInfo ? `${backendInfo.name} (${backendInfo.reason})` : 'unknown',
  };
}

const fmtParams = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
const fmt = (v, d = 4) => (v === undefined || v === null ? '–' : Number(v).toFixed(d));
const minutes = (s) => `${(s / 60).toFixed(1)} min`;

/** PNG bytes of the scaling plot: test loss (all scales, last scale) against parameters, log-log, with the fitted power laws. */
export async function renderScalingPlot(rows, fit) {
  const { renderPlot, encodePlotPng } = await import('./plot.mjs');
  const img = renderPlot({
    title: 'VAR scaling on MNIST tokens',
    xLabel: 'parameters',
    yLabel: 'held-out test loss (cross-entropy, nats)',
    headroom: 0.5,
    legend: 'upper right',
    logX: true,
    logY: true,
    series: [
      { name: 'test loss, all scales', color: [31, 119, 180], points: rows.map((r) => ({ x: r.parameters, y: r.testLoss })), marker: true },
      {
        name: 'test loss, last scale',
        color: [44, 160, 44],
        points: rows.map((r) => ({ x: r.parameters, y: r.testLossLast })),
        marker: true,
      },
    ],
    fits: [
      {
        name: `fit, slope ${fit.loss.exponent.toFixed(3)}`,
        color: [31, 119, 180],
        f: (x) => fit.loss.coefficient * x ** fit.loss.exponent,
      },
      {
        name: `fit, slope ${fit.lossLast.exponent.toFixed(3)}`,
        color: [44, 160, 44],
        f: (x) => fit.lossLast.coefficient * x ** fit.lossLast.exponent,
      },
    ],
  });
  return encodePlotPng(img);
}

function scalingSection(s) {
  const lines = [];
  lines.push('## Scaling: test loss against model size');
  lines.push('');
  lines.push(
    `${s.rows.length} VAR sizes (depth d, width 32·d, d heads) trained on the same MNIST tokens (${s.setup.tokenizer}) for ${s.setup.steps} steps × batch ${s.setup.batchSize} ` +
      `(${s.setup.tokensSeen.toLocaleString('en-US')} tokens seen each, lr ${s.setup.lr}); test loss = teacher-forced cross-entropy over all ${s.setup.tokensPerSequence} tokens of the ${s.setup.heldOutImages} held-out digits.`,
  );
  lines.push('');
  lines.push(
    '| depth | width | parameters | test loss (all scales) | token error (all) | test loss (last scale) | token error (last) | training time |',
  );
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of s.rows) {
    lines.push(
      `| ${r.depth} | ${r.width} | ${fmtParams(r.parameters)} | ${fmt(r.testLoss)} | ${fmt(1 - r.testTokenAcc)} | ${fmt(r.testLossLast)} | ${fmt(1 - r.testTokenAccLast)} | ${minutes(r.trainSec)} |`,
    );
  }
  lines.push('');
  lines.push('Power-law fits, log(y) = a + b·log(N) over the sizes above:');
  lines.push('');
  lines.push('| quantity | exponent b | R² |');
  lines.push('| --- | ---: | ---: |');
  for (const [name, f] of [
    ['test loss, all scales', s.fit.loss],
    ['test loss, last scale', s.fit.lossLast],
    ['token error, all scales', s.fit.error],
    ['token error, last scale', s.fit.errorLast],
  ]) {
    lines.push(`| ${name} | **${f.exponent.toFixed(4)}** | ${f.r2.toFixed(3)} |`);
  }
  lines.push('');
  if (s.fit.reducible) {
    lines.push(
      `With an irreducible term, test loss = L∞ + c·N^b (L∞ scanned, best R² of the straight line of log(loss − L∞)): L∞ = ${s.fit.reducible.lInf.toFixed(4)}, **b = ${s.fit.reducible.exponent.toFixed(4)}**, R² = ${s.fit.reducible.r2.toFixed(3)}.`,
    );
  }
  lines.push('');
  lines.push('![scaling plot](paper-claims/scaling.png)');
  lines.push('');
  lines.push(
    `Total training time ${minutes(s.totalTrainSec)} on ${s.machine.cores} cores (${s.machine.cpu}; ${s.machine.backend}), measured ${s.date.slice(0, 10)}.`,
  );
  lines.push('');
  lines.push('Reproduce (resumable; re-running re-uses finished runs):');
  lines.push('');
  lines.push('```sh');
  lines.push('pnpm build');
  lines.push(s.command);
  lines.push('```');
  if (s.notes?.length) {
    lines.push('');
    for (const n of s.notes) lines.push(`- ${n}`);
  }
  return lines.join('\n');
}

function rasterSection(r) {
  const lines = [];
  lines.push('## Next-scale (VAR) against raster-order autoregression');
  lines.push('');
  lines.push(r.setup.description);
  lines.push('');
  lines.push('### Quality (MNIST, 32 px, 8×8 final token grid)');
  lines.push('');
  lines.push(
    '| model | steps × batch | parameters | sampling | generated | class accuracy | FID (classifier features) | tokenizer recon. FID |',
  );
  lines.push('| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |');
  for (const m of r.quality) {
    lines.push(
      `| ${m.name} | ${m.steps} × ${m.batchSize} | ${fmtParams(m.parameters)} | cfg ${m.sampling.cfg} (${m.sampling.cfgSchedule}), top-k ${m.sampling.topK}, top-p ${m.sampling.topP} | ${m.generated} | ${(m.genAccuracy * 100).toFixed(1)}% | ${fmt(m.genFid, 1)} | ${fmt(m.recFid, 2)} |`,
    );
  }
  if (r.cfgSweep?.length) {
    lines.push('');
    lines.push(`Guidance chosen per model by FID on a separate sweep (${r.cfgSweepSamples} samples each, seed ${r.cfgSweepSeed}):`);
    lines.push('');
    lines.push('| model | cfg | FID | accuracy |');
    lines.push('| --- | ---: | ---: | ---: |');
    for (const s of r.cfgSweep) lines.push(`| ${s.name} | ${s.cfg} | ${fmt(s.genFid, 1)} | ${(s.genAccuracy * 100).toFixed(1)}% |`);
  }
  lines.push('');
  lines.push('### Speed: time per image at equal batch');
  lines.push('');
  lines.push('| grid | weights | batch | VAR steps | raster steps | VAR ms/image | raster ms/image | raster / VAR | VAR decode ms/image |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const s of r.speed) {
    lines.push(
      `| ${s.grid}×${s.grid} | ${s.weights} | ${s.batch} | ${s.varSteps} | ${s.rasterSteps} | ${s.varMsPerImage.toFixed(1)} | ${s.rasterMsPerImage.toFixed(1)} | **${(s.rasterMsPerImage / s.varMsPerImage).toFixed(2)}×** | ${s.varDecodeMsPerImage.toFixed(1)} |`,
    );
  }
  lines.push('');
  lines.push(r.speedNote);
  lines.push('');
  // the verdict, from the numbers above
  const v = r.quality.find((m) => m.name.startsWith('VAR'));
  const ra = r.quality.find((m) => !m.name.startsWith('VAR'));
  const s16 = r.speed.filter((x) => x.grid === 16);
  const best16 = Math.max(...s16.map((x) => x.rasterMsPerImage / x.varMsPerImage));
  lines.push('### Verdict');
  lines.push('');
  lines.push(
    `- Quality: VAR FID ${fmt(v.genFid, 1)} vs raster ${fmt(ra.genFid, 1)}, class accuracy ${(v.genAccuracy * 100).toFixed(1)}% vs ${(ra.genAccuracy * 100).toFixed(1)}%: ` +
      (v.genFid < ra.genFid
        ? "**VAR is better** (the paper's claim holds here)."
        : `**the raster model is better** by FID (the goal, VAR better, is missed by ${fmt(v.genFid - ra.genFid, 1)} FID points).`),
  );
  lines.push(
    `- Speed at a 16×16 grid: VAR is at best ${best16.toFixed(2)}× faster per image (goal ≥ 10×: ${best16 >= 10 ? 'met' : `missed by a factor ${(10 / best16).toFixed(1)}`}); ` +
      s16.map((x) => `batch ${x.batch}: ${(x.rasterMsPerImage / x.varMsPerImage).toFixed(2)}×`).join(', ') +
      '.',
  );
  lines.push('');
  lines.push(`Measured ${r.date.slice(0, 10)} on ${r.machine.cores} cores (${r.machine.cpu}; ${r.machine.backend}).`);
  lines.push('');
  lines.push('Reproduce:');
  lines.push('');
  lines.push('```sh');
  lines.push('pnpm build');
  for (const c of r.commands) lines.push(c);
  lines.push('```');
  lines.push('');
  lines.push('Notes:');
  lines.push('');
  lines.push(
    `- The tokenizers differ in quality: reconstruction FID ${fmt(v.recFid, 2)} (VAR's multi-scale tokenizer) vs ${fmt(ra.recFid, 2)} (the single-scale one, fine-tuned from it with encoder, codebook and decoder trainable); part of the generation FID difference is the tokenizers'.`,
  );
  lines.push(
    `- At this size (${fmtParams(v.parameters)} parameters, ${r.speed.find((x) => x.grid === 8) ? '8×8' : ''} tokens, ${v.steps} steps) the paper's ImageNet-scale result need not carry over; both models are far from converged.`,
  );
  lines.push(
    "- The paper's speed claim is about GPU latency, where a step over many tokens costs about as much as a step over one; on a CPU the cost grows with the tokens, so VAR's gain is the per-step overhead it saves (largest at batch 1).",
  );
  return lines.join('\n');
}

/** Write docs/paper-claims.md from docs/paper-claims/{raster,scaling}.json (whichever exist). */
export async function renderPaperClaims(root) {
  const dir = join(root, 'docs/paper-claims');
  const read = async (f) => JSON.parse(await readFile(join(dir, f), 'utf8').catch(() => 'null'));
  const raster = await read('raster.json');
  const scaling = await read('scaling.json');
  const parts = [
    "# The paper's claims in miniature",
    '',
    '<!-- generated by experiments/paper-claims-lib.mjs from docs/paper-claims/*.json; do not edit -->',
    '',
    'VAR (Tian et al., 2024) claims that next-scale prediction is both better and much faster than raster-order',
    'autoregression, and that its test loss falls as a power law in model size. This page checks both on this',
    "project's MNIST pipeline, on a CPU, with models small enough to train here. Every figure below comes from one run",
    'of the commands listed under it.',
    '',
  ];
  parts.push(
    raster ? rasterSection(raster) : '## Next-scale against raster-order\n\nNot measured yet: run `node experiments/raster-vs-var.mjs`.',
  );
  parts.push('');
  parts.push(scaling ? scalingSection(scaling) : '## Scaling\n\nNot measured yet: run `node experiments/scaling.mjs`.');
  parts.push('');
  const out = join(root, 'docs/paper-claims.md');
  await writeFile(`${out}.tmp`, parts.join('\n'));
  await rename(`${out}.tmp`, out);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { parseCommand } = await import('./args.mjs');
  parseCommand(
    `usage: node experiments/paper-claims-lib.mjs

Re-renders docs/paper-claims.md from docs/paper-claims/raster.json and scaling.json (written by
raster-vs-var.mjs and scaling.mjs); nothing is measured.`,
    {},
  );
  const root = fileURLToPath(new URL('../', import.meta.url));
  console.log(`wrote ${await renderPaperClaims(root)}`);
}
