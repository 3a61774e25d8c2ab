// Shared by bench-step.mjs and bench-var.mjs: time a training step three times, or with
// --profile print the kernels that take the most time in one (warmed-up) step; with
// PROFILE_SHAPES=<kernel> (e.g. BatchMatMul) also that kernel's time per input/output shapes.
export async function timeOrProfile(tf, step, label, profile) {
  if (!profile) {
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      const extra = step();
      console.log(`${label} step ${Date.now() - t} ms${extra ?? ''}`);
    }
    return;
  }
  step();
  const info = await tf.profile(() => {
    step();
  });
  const agg = new Map();
  for (const k of info.kernels) {
    const a = agg.get(k.name) ?? [0, 0];
    a[0] += k.kernelTimeMs;
    a[1]++;
    agg.set(k.name, a);
  }
  console.log(
    [...agg]
      .sort((a, b) => b[1][0] - a[1][0])
      .slice(0, 15)
      .map(([n, [t, c]]) => `${n} ${t.toFixed(0)}ms x${c}`)
      .join('\n'),
  );
  const byShape = process.env.PROFILE_SHAPES;
  if (byShape) {
    const m = new Map();
    for (const k of info.kernels) {
      if (k.name !== byShape) continue;
      const key = `${JSON.stringify(k.inputShapes)} -> ${JSON.stringify(k.outputShapes)}`;
      const a = m.get(key) ?? [0, 0];
      a[0] += k.kernelTimeMs;
      a[1]++;
      m.set(key, a);
    }
    console.log(
      [...m]
        .sort((a, b) => b[1][0] - a[1][0])
        .slice(0, 25)
        .map(([n, [t, c]]) => `${t.toFixed(0)}ms x${c} ${n}`)
        .join('\n'),
    );
  }
}
