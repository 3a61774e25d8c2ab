await import('./node-setup.mjs');
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VQVAE, vqvaeGradients } = await import('@var/tokenizer');
await initBackend('wasm', { threads: 1 });
const { registerFastConvGradients } = await import('@var/train'); registerFastConvGradients();
const cfg = JSON.parse(process.argv[2]);
const B = Number(process.argv[3] ?? 8);
const vae = VQVAE.create(cfg, { seed: 0 });
const img = tf.randomUniform([B, cfg.inChannels ?? 3, vae.imageSize, vae.imageSize], -1, 1);
{ const g = vqvaeGradients(vae, img); tf.dispose([...g.grads.values()]); }
const info = await tf.profile(() => { const g = vqvaeGradients(vae, img); tf.dispose([...g.grads.values()]); });
const agg = new Map();
for (const k of info.kernels) { const a = agg.get(k.name) ?? [0, 0]; a[0] += k.kernelTimeMs; a[1]++; agg.set(k.name, a); }
console.log([...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 15).map(([n, [t, c]]) => `${n} ${t.toFixed(0)}ms x${c}`).join('\n'));
