// Time a few training steps of a tokenizer config (used to size the MNIST models).
await import('./node-setup.mjs');
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VQVAE, vqvaeGradients } = await import('@var/tokenizer');
await initBackend('wasm', { threads: 1 });
const { registerFastConvGradients } = await import('@var/train'); registerFastConvGradients();
const cfg = JSON.parse(process.argv[2]);
const B = Number(process.argv[3] ?? 32);
const vae = VQVAE.create(cfg, { seed: 0 });
const img = tf.randomUniform([B, cfg.inChannels ?? 3, vae.imageSize, vae.imageSize], -1, 1);
for (let i = 0; i < 3; i++) {
  const t = Date.now();
  const g = vqvaeGradients(vae, img);
  tf.dispose([...g.grads.values()]);
  console.log(`params ${vae.numParameters()} B ${B} step ${Date.now() - t} ms`);
}
