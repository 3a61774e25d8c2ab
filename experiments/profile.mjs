// Shared by bench-step.mjs and bench-var.mjs: time a training step three times, or with
// --profile print the kernels that take the most time in one (warmed-up) step.
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
}
