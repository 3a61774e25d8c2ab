/**
 * The state-dict table of the official VQVAE, computed from a config alone (no
 * tensors): names, PyTorch shapes and the role of every entry, in the order of
 * `model.state_dict()`. The model constructor allocates its variables from this
 * table, so a shape test of the table is a test of the model.
 */
import { phiLayout, type VQVAEConfig } from './config.js';

/** How an entry is used (decides init and the internal layout). */
export type EntryKind =
  | 'conv-weight' // (O, I, kh, kw), stored internally as (kh, kw, I, O)
  | 'conv-bias'
  | 'norm-weight'
  | 'norm-bias'
  | 'embedding' // (V, Cvae)
  | 'buffer'; // not a parameter (quantize.ema_vocab_hit_SV)

export interface StateEntry {
  name: string;
  /** PyTorch shape (as in the official state dict). */
  shape: number[];
  kind: EntryKind;
}

function conv(out: StateEntry[], prefix: string, cin: number, cout: number, k: number): void {
  out.push({ name: `${prefix}.weight`, shape: [cout, cin, k, k], kind: 'conv-weight' });
  out.push({ name: `${prefix}.bias`, shape: [cout], kind: 'conv-bias' });
}

function norm(out: StateEntry[], prefix: string, c: number): void {
  out.push({ name: `${prefix}.weight`, shape: [c], kind: 'norm-weight' });
  out.push({ name: `${prefix}.bias`, shape: [c], kind: 'norm-bias' });
}

function resnet(out: StateEntry[], prefix: string, cin: number, cout: number): void {
  norm(out, `${prefix}.norm1`, cin);
  conv(out, `${prefix}.conv1`, cin, cout, 3);
  norm(out, `${prefix}.norm2`, cout);
  conv(out, `${prefix}.conv2`, cout, cout, 3);
  if (cin !== cout) conv(out, `${prefix}.nin_shortcut`, cin, cout, 1);
}

function attn(out: StateEntry[], prefix: string, c: number): void {
  norm(out, `${prefix}.norm`, c);
  conv(out, `${prefix}.qkv`, c, 3 * c, 1);
  conv(out, `${prefix}.proj_out`, c, c, 1);
}

/** Entries of `encoder.*` (official Encoder, double_z=False). */
function encoderEntries(out: StateEntry[], c: VQVAEConfig): void {
  const L = c.chMult.length;
  const inMult = [1, ...c.chMult];
  conv(out, 'encoder.conv_in', c.inChannels, c.ch, 3);
  let blockIn = c.ch;
  for (let lvl = 0; lvl < L; lvl++) {
    blockIn = c.ch * inMult[lvl];
    const blockOut = c.ch * c.chMult[lvl];
    for (let b = 0; b < c.numResBlocks; b++) {
      resnet(out, `encoder.down.${lvl}.block.${b}`, blockIn, blockOut);
      blockIn = blockOut;
    }
    if (lvl === L - 1 && c.usingSa) for (let b = 0; b < c.numResBlocks; b++) attn(out, `encoder.down.${lvl}.attn.${b}`, blockIn);
    if (lvl !== L - 1) conv(out, `encoder.down.${lvl}.downsample.conv`, blockIn, blockIn, 3);
  }
  resnet(out, 'encoder.mid.block_1', blockIn, blockIn);
  if (c.usingMidSa) attn(out, 'encoder.mid.attn_1', blockIn);
  resnet(out, 'encoder.mid.block_2', blockIn, blockIn);
  norm(out, 'encoder.norm_out', blockIn);
  conv(out, 'encoder.conv_out', blockIn, c.zChannels, 3);
}

/** Entries of `decoder.*` (official Decoder; `up` is listed in index order 0..L-1). */
function decoderEntries(out: StateEntry[], c: VQVAEConfig): void {
  const L = c.chMult.length;
  let blockIn = c.ch * c.chMult[L - 1];
  conv(out, 'decoder.conv_in', c.zChannels, blockIn, 3);
  resnet(out, 'decoder.mid.block_1', blockIn, blockIn);
  if (c.usingMidSa) attn(out, 'decoder.mid.attn_1', blockIn);
  resnet(out, 'decoder.mid.block_2', blockIn, blockIn);
  // Channel counts are decided top-down (lvl L-1 .. 0) but the state dict lists up.0 first.
  const perLevel: StateEntry[][] = new Array(L);
  for (let lvl = L - 1; lvl >= 0; lvl--) {
    const e: StateEntry[] = [];
    const blockOut = c.ch * c.chMult[lvl];
    for (let b = 0; b < c.numResBlocks + 1; b++) {
      resnet(e, `decoder.up.${lvl}.block.${b}`, blockIn, blockOut);
      blockIn = blockOut;
    }
    if (lvl === L - 1 && c.usingSa) for (let b = 0; b < c.numResBlocks + 1; b++) attn(e, `decoder.up.${lvl}.attn.${b}`, blockIn);
    if (lvl !== 0) conv(e, `decoder.up.${lvl}.upsample.conv`, blockIn, blockIn, 3);
    perLevel[lvl] = e;
  }
  for (const e of perLevel) out.push(...e);
  norm(out, 'decoder.norm_out', blockIn);
  conv(out, 'decoder.conv_out', blockIn, c.inChannels, 3);
}

/**
 * Every state-dict entry (parameters and the buffer `quantize.ema_vocab_hit_SV`) of the
 * official VQVAE built with `config`, in `state_dict()` order, with PyTorch shapes.
 */
export function stateDictEntries(config: VQVAEConfig): StateEntry[] {
  const out: StateEntry[] = [];
  encoderEntries(out, config);
  decoderEntries(out, config);
  out.push({ name: 'quantize.ema_vocab_hit_SV', shape: [config.vPatchNums.length, config.vocabSize], kind: 'buffer' });
  const phi = phiLayout(config);
  if (!phi.identity) for (let i = 0; i < phi.count; i++) conv(out, phi.prefix(i), config.zChannels, config.zChannels, 3);
  out.push({ name: 'quantize.embedding.weight', shape: [config.vocabSize, config.zChannels], kind: 'embedding' });
  conv(out, 'quant_conv', config.zChannels, config.zChannels, config.quantConvKs);
  conv(out, 'post_quant_conv', config.zChannels, config.zChannels, config.quantConvKs);
  return out;
}

/** Name → PyTorch shape of every trainable parameter (buffers excluded), in state-dict order. */
export function paramShapes(config: VQVAEConfig): Map<string, number[]> {
  return new Map(
    stateDictEntries(config)
      .filter((e) => e.kind !== 'buffer')
      .map((e) => [e.name, e.shape]),
  );
}

/** Total number of trainable parameters (buffers excluded), as PyTorch's `sum(p.numel() for p in parameters())`. */
export function countParameters(config: VQVAEConfig): number {
  let n = 0;
  for (const shape of paramShapes(config).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}
