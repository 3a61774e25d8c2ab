// Time (or, with --profile, kernel-profile) tokenizer training steps for a config (used to size
// the MNIST models): node bench-step.mjs '<tokenizer config JSON>' [batch=32] [--profile]
await import('./node-setup.mjs');
const tf = await import('@tensorflow/tfjs-core');
const { initBackend } = await import('@var/core');
const { VQVAE, vqvaeGradients } = await import('@var/tokenizer');
const { timeOrProfile } = await import('./profile.mjs');
await initBackend('wasm', { threads: 1 });
const { registerFastConvGradients } = await import('@var/train'); registerFastConvGradients();
const args = process.argv.slice(2).filter((a) => a !== '--profile');
const cfg = JSON.parse(args[0]);
const B = Number(args[1] ?? 32);
const vae = VQVAE.create(cfg, { seed: 0 });
const img = tf.randomUniform([B, cfg.inChannels ?? 3, vae.imageSize, vae.imageSize], -1, 1);
await timeOrProfile(tf, () => { const g = vqvaeGradients(vae, img); tf.dispose([...g.grads.values()]); },
  `params ${vae.numParameters()} B ${B}`, process.argv.includes('--profile'));
