/**
 * InceptionV3 as used for FID by pytorch-fid and the ADM evaluator: the
 * `pt_inception-2015-12-05` network (TensorFlow's 2015 Inception graph ported to
 * PyTorch), torchvision's Inception3 with 1008 classes, no auxiliary head, and the
 * FID-specific blocks FIDInceptionA / FIDInceptionC / FIDInceptionE_1 / FIDInceptionE_2
 * (average pools that do not count padding; a max pool in the last block's pool branch).
 *
 * Features: the 2048-d output of the final average pool; logits: `fc` (1008 classes).
 * Weights: a safetensors file converted from `pt_inception-2015-12-05-6726825d.pth`
 * (state-dict keys such as `Conv2d_1a_3x3.conv.weight`, `Mixed_5b.branch1x1.bn.running_mean`,
 * `fc.weight`). It cannot be downloaded here; the user provides it.
 *
 * Every BasicConv2d (conv without bias → BatchNorm(eps = 0.001) → ReLU) is folded at load
 * time into one fused conv2d + bias + ReLU (NHWC on the tfjs side).
 */
import type { Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import { CheckpointError, ShapeError, ValueError } from './errors.js';
import type { ExtractorOutput, FeatureExtractor } from './extractor.js';
import { loadTf, type TF } from './tf.js';
import { parseWeights, readWeightBytes } from './weights-io.js';

export const INCEPTION_FEATURE_DIM = 2048;
export const INCEPTION_NUM_CLASSES = 1008;
export const INCEPTION_INPUT_SIZE = 299;
const BN_EPS = 1e-3;

/** One BasicConv2d of the network. */
export interface InceptionConvSpec {
  /** State-dict prefix, e.g. `Mixed_5b.branch5x5_2`. */
  name: string;
  cin: number;
  cout: number;
  kernel: [number, number];
  stride: number;
  padding: [number, number];
}

type Op =
  | { kind: 'conv'; conv: InceptionConvSpec }
  | { kind: 'maxpool'; size: number; stride: number; same: boolean }
  | { kind: 'avgpool_same' };
/** A branch is a sequence of ops; a `split` ends in parallel ops whose outputs are concatenated. */
interface Branch {
  ops: Op[];
  split?: Op[];
}
interface MixedBlock {
  name: string;
  branches: Branch[];
}

const conv = (
  name: string,
  cin: number,
  cout: number,
  k: number | [number, number],
  stride = 1,
  pad: number | [number, number] = 0,
): Op => ({
  kind: 'conv',
  conv: {
    name,
    cin,
    cout,
    kernel: typeof k === 'number' ? [k, k] : k,
    stride,
    padding: typeof pad === 'number' ? [pad, pad] : pad,
  },
});
const maxpool = (size: number, stride: number, same = false): Op => ({ kind: 'maxpool', size, stride, same });
const avgpoolSame: Op = { kind: 'avgpool_same' };

function blockA(name: string, cin: number, poolFeatures: number): MixedBlock {
  const c = (b: string) => `${name}.${b}`;
  return {
    name,
    branches: [
      { ops: [conv(c('branch1x1'), cin, 64, 1)] },
      { ops: [conv(c('branch5x5_1'), cin, 48, 1), conv(c('branch5x5_2'), 48, 64, 5, 1, 2)] },
      {
        ops: [
          conv(c('branch3x3dbl_1'), cin, 64, 1),
          conv(c('branch3x3dbl_2'), 64, 96, 3, 1, 1),
          conv(c('branch3x3dbl_3'), 96, 96, 3, 1, 1),
        ],
      },
      { ops: [avgpoolSame, conv(c('branch_pool'), cin, poolFeatures, 1)] },
    ],
  };
}
function blockB(name: string, cin: number): MixedBlock {
  const c = (b: string) => `${name}.${b}`;
  return {
    name,
    branches: [
      { ops: [conv(c('branch3x3'), cin, 384, 3, 2)] },
      { ops: [conv(c('branch3x3dbl_1'), cin, 64, 1), conv(c('branch3x3dbl_2'), 64, 96, 3, 1, 1), conv(c('branch3x3dbl_3'), 96, 96, 3, 2)] },
      { ops: [maxpool(3, 2)] },
    ],
  };
}
function blockC(name: string, cin: number, c7: number): MixedBlock {
  const c = (b: string) => `${name}.${b}`;
  return {
    name,
    branches: [
      { ops: [conv(c('branch1x1'), cin, 192, 1)] },
      {
        ops: [
          conv(c('branch7x7_1'), cin, c7, 1),
          conv(c('branch7x7_2'), c7, c7, [1, 7], 1, [0, 3]),
          conv(c('branch7x7_3'), c7, 192, [7, 1], 1, [3, 0]),
        ],
      },
      {
        ops: [
          conv(c('branch7x7dbl_1'), cin, c7, 1),
          conv(c('branch7x7dbl_2'), c7, c7, [7, 1], 1, [3, 0]),
          conv(c('branch7x7dbl_3'), c7, c7, [1, 7], 1, [0, 3]),
          conv(c('branch7x7dbl_4'), c7, c7, [7, 1], 1, [3, 0]),
          conv(c('branch7x7dbl_5'), c7, 192, [1, 7], 1, [0, 3]),
        ],
      },
      { ops: [avgpoolSame, conv(c('branch_pool'), cin, 192, 1)] },
    ],
  };
}
function blockD(name: string, cin: number): MixedBlock {
  const c = (b: string) => `${name}.${b}`;
  return {
    name,
    branches: [
      { ops: [conv(c('branch3x3_1'), cin, 192, 1), conv(c('branch3x3_2'), 192, 320, 3, 2)] },
      {
        ops: [
          conv(c('branch7x7x3_1'), cin, 192, 1),
          conv(c('branch7x7x3_2'), 192, 192, [1, 7], 1, [0, 3]),
          conv(c('branch7x7x3_3'), 192, 192, [7, 1], 1, [3, 0]),
          conv(c('branch7x7x3_4'), 192, 192, 3, 2),
        ],
      },
      { ops: [maxpool(3, 2)] },
    ],
  };
}
/** FIDInceptionE_1 (`pool: 'avg'`) and FIDInceptionE_2 (`pool: 'max'`). */
function blockE(name: string, cin: number, pool: 'avg' | 'max'): MixedBlock {
  const c = (b: string) => `${name}.${b}`;
  return {
    name,
    branches: [
      { ops: [conv(c('branch1x1'), cin, 320, 1)] },
      {
        ops: [conv(c('branch3x3_1'), cin, 384, 1)],
        split: [conv(c('branch3x3_2a'), 384, 384, [1, 3], 1, [0, 1]), conv(c('branch3x3_2b'), 384, 384, [3, 1], 1, [1, 0])],
      },
      {
        ops: [conv(c('branch3x3dbl_1'), cin, 448, 1), conv(c('branch3x3dbl_2'), 448, 384, 3, 1, 1)],
        split: [conv(c('branch3x3dbl_3a'), 384, 384, [1, 3], 1, [0, 1]), conv(c('branch3x3dbl_3b'), 384, 384, [3, 1], 1, [1, 0])],
      },
      { ops: [pool === 'avg' ? avgpoolSame : maxpool(3, 1, true), conv(c('branch_pool'), cin, 192, 1)] },
    ],
  };
}

/** The stem, as single-branch "blocks". */
const STEM: Op[] = [
  conv('Conv2d_1a_3x3', 3, 32, 3, 2),
  conv('Conv2d_2a_3x3', 32, 32, 3),
  conv('Conv2d_2b_3x3', 32, 64, 3, 1, 1),
  maxpool(3, 2),
  conv('Conv2d_3b_1x1', 64, 80, 1),
  conv('Conv2d_4a_3x3', 80, 192, 3),
  maxpool(3, 2),
];
const MIXED: MixedBlock[] = [
  blockA('Mixed_5b', 192, 32),
  blockA('Mixed_5c', 256, 64),
  blockA('Mixed_5d', 288, 64),
  blockB('Mixed_6a', 288),
  blockC('Mixed_6b', 768, 128),
  blockC('Mixed_6c', 768, 160),
  blockC('Mixed_6d', 768, 160),
  blockC('Mixed_6e', 768, 192),
  blockD('Mixed_7a', 768),
  blockE('Mixed_7b', 1280, 'avg'),
  blockE('Mixed_7c', 2048, 'max'),
];

/** Every BasicConv2d of the network, in forward order. */
export const INCEPTION_CONVS: readonly InceptionConvSpec[] = (() => {
  const out: InceptionConvSpec[] = [];
  const visit = (ops: Op[]) => ops.forEach((o) => o.kind === 'conv' && out.push(o.conv));
  visit(STEM);
  for (const b of MIXED)
    for (const br of b.branches) {
      visit(br.ops);
      if (br.split) visit(br.split);
    }
  return out;
})();

/**
 * The state-dict key → shape table of the FID InceptionV3 (derived from the
 * architecture above). `num_batches_tracked` buffers, if present in a file, are ignored.
 */
export function inceptionStateDictShapes(): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const c of INCEPTION_CONVS) {
    m.set(`${c.name}.conv.weight`, [c.cout, c.cin, c.kernel[0], c.kernel[1]]);
    for (const p of ['weight', 'bias', 'running_mean', 'running_var']) m.set(`${c.name}.bn.${p}`, [c.cout]);
  }
  m.set('fc.weight', [INCEPTION_NUM_CLASSES, INCEPTION_FEATURE_DIM]);
  m.set('fc.bias', [INCEPTION_NUM_CLASSES]);
  return m;
}

/** Numeric tensor accepted by {@link InceptionV3.fromStateDict}. */
export interface InceptionWeight {
  shape: readonly number[];
  data: ArrayLike<number>;
}

export interface InceptionOptions {
  /**
   * Resize inputs bilinearly (half-pixel centres, no antialias: PyTorch's
   * `F.interpolate(mode='bilinear', align_corners=False)`, as pytorch-fid) to this square
   * size first; `null` keeps the input size (at least 75 px). Default 299.
   */
  resizeTo?: number | null;
}

const HELP =
  "The FID Inception weights cannot be downloaded by var.ts: fetch pytorch-fid's pt_inception-2015-12-05-6726825d.pth " +
  'yourself and convert it to safetensors (e.g. pthToSafetensors from @var/checkpoint, or `var convert`), then pass its path, URL or bytes.';

interface FoldedConv {
  spec: InceptionConvSpec;
  filter: Tensor4D; // HWIO, BN scale folded in
  bias: Tensor1D;
}

/** The FID InceptionV3 as a {@link FeatureExtractor} (features 2048-d, logits 1008). */
export class InceptionV3 implements FeatureExtractor {
  readonly featureDim = INCEPTION_FEATURE_DIM;
  readonly numClasses = INCEPTION_NUM_CLASSES;
  readonly resizeTo: number | null;
  private disposed = false;

  private constructor(
    private readonly tf: TF,
    private readonly convs: Map<string, FoldedConv>,
    private readonly fcW: Tensor2D, // (2048, 1008)
    private readonly fcB: Tensor1D,
    opts: InceptionOptions,
  ) {
    this.resizeTo = opts.resizeTo === undefined ? INCEPTION_INPUT_SIZE : opts.resizeTo;
  }

  /**
   * Load converted pt_inception weights (safetensors) from a path / URL or bytes.
   * Throws CheckpointError with instructions when the file is absent.
   */
  static async load(src: string | URL | ArrayBuffer | Uint8Array, opts: InceptionOptions = {}): Promise<InceptionV3> {
    if (src === undefined || src === null || src === '') throw new CheckpointError(`InceptionV3: no weights given. ${HELP}`);
    const bytes = await readWeightBytes(src, 'InceptionV3', HELP);
    return InceptionV3.fromStateDict(parseWeights(bytes, 'InceptionV3'), opts);
  }

  /**
   * Build from a state dict (key → {shape, data}); strict: every key of
   * {@link inceptionStateDictShapes} must be present with its shape, and no other key
   * (except `*.num_batches_tracked`). Throws CheckpointError listing the differences.
   */
  static async fromStateDict(sd: Map<string, InceptionWeight>, opts: InceptionOptions = {}): Promise<InceptionV3> {
    const tf = await loadTf();
    const want = inceptionStateDictShapes();
    const missing: string[] = [],
      badShape: string[] = [],
      unexpected: string[] = [];
    for (const [k, shape] of want) {
      const t = sd.get(k);
      if (!t) missing.push(k);
      else if (t.shape.join(',') !== shape.join(',') || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
        badShape.push(`${k} [${t.shape}] (expected [${shape}])`);
      }
    }
    for (const k of sd.keys()) if (!want.has(k) && !k.endsWith('.num_batches_tracked')) unexpected.push(k);
    if (missing.length || badShape.length || unexpected.length) {
      const list = (label: string, xs: string[]) =>
        xs.length ? `${label} (${xs.length}): ${xs.slice(0, 8).join(', ')}${xs.length > 8 ? ', …' : ''}. ` : '';
      throw new CheckpointError(
        `InceptionV3: the state dict does not match the FID Inception (pt_inception-2015-12-05). ` +
          list('missing', missing) +
          list('mis-shaped', badShape) +
          list('unexpected', unexpected),
      );
    }
    const convs = new Map<string, FoldedConv>();
    for (const spec of INCEPTION_CONVS) {
      const w = sd.get(`${spec.name}.conv.weight`)!.data;
      const gamma = sd.get(`${spec.name}.bn.weight`)!.data;
      const beta = sd.get(`${spec.name}.bn.bias`)!.data;
      const mean = sd.get(`${spec.name}.bn.running_mean`)!.data;
      const variance = sd.get(`${spec.name}.bn.running_var`)!.data;
      const {
        cin,
        cout,
        kernel: [kh, kw],
      } = spec;
      const scale = new Float64Array(cout);
      const bias = new Float32Array(cout);
      for (let o = 0; o < cout; o++) {
        scale[o] = gamma[o] / Math.sqrt(variance[o] + BN_EPS);
        bias[o] = beta[o] - mean[o] * scale[o];
      }
      // OIHW → HWIO with the BN scale of the output channel folded in
      const hwio = new Float32Array(cout * cin * kh * kw);
      for (let o = 0; o < cout; o++)
        for (let i = 0; i < cin; i++)
          for (let y = 0; y < kh; y++)
            for (let x = 0; x < kw; x++) hwio[((y * kw + x) * cin + i) * cout + o] = w[((o * cin + i) * kh + y) * kw + x] * scale[o];
      convs.set(spec.name, { spec, filter: tf.tensor4d(hwio, [kh, kw, cin, cout]), bias: tf.tensor1d(bias) });
    }
    const fw = sd.get('fc.weight')!.data;
    const fcT = new Float32Array(INCEPTION_FEATURE_DIM * INCEPTION_NUM_CLASSES);
    for (let o = 0; o < INCEPTION_NUM_CLASSES; o++)
      for (let i = 0; i < INCEPTION_FEATURE_DIM; i++) fcT[i * INCEPTION_NUM_CLASSES + o] = fw[o * INCEPTION_FEATURE_DIM + i];
    const fcW = tf.tensor2d(fcT, [INCEPTION_FEATURE_DIM, INCEPTION_NUM_CLASSES]);
    const fcB = tf.tensor1d(Float32Array.from(sd.get('fc.bias')!.data));
    return new InceptionV3(tf, convs, fcW, fcB, opts);
  }

  /**
   * Random weights with the real architecture (He-normal convs, identity batch norm,
   * small random fc), for tests and benchmarks. Seeded.
   */
  static async random(seed = 0, opts: InceptionOptions = {}): Promise<InceptionV3> {
    let s = seed >>> 0;
    const u = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
    };
    const normal = () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
    const sd = new Map<string, InceptionWeight>();
    for (const [k, shape] of inceptionStateDictShapes()) {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (k.endsWith('conv.weight') || k === 'fc.weight') {
        const std = Math.sqrt(2 / (n / shape[0])) * (k === 'fc.weight' ? 0.05 : 1);
        for (let i = 0; i < n; i++) data[i] = normal() * std;
      } else if (k.endsWith('bn.weight') || k.endsWith('running_var')) data.fill(1);
      sd.set(k, { shape, data });
    }
    return InceptionV3.fromStateDict(sd, opts);
  }

  private runOp(x: Tensor4D, op: Op): Tensor4D {
    const tf = this.tf;
    if (op.kind === 'maxpool') return tf.maxPool(x, op.size, op.stride, op.same ? 'same' : 'valid');
    // TensorFlow's 'same' average pool divides by the number of valid (unpadded) inputs:
    // F.avg_pool2d(k=3, s=1, p=1, count_include_pad=False).
    if (op.kind === 'avgpool_same') return tf.avgPool(x, 3, 1, 'same');
    const c = this.convs.get(op.conv.name)!;
    const { padding, kernel, stride } = c.spec;
    // Every padded conv of the network has stride 1 and padding (k-1)/2 = 'same'.
    const pad = padding[0] === 0 && padding[1] === 0 ? 'valid' : 'same';
    if (pad === 'same' && (stride !== 1 || padding[0] * 2 + 1 !== kernel[0] || padding[1] * 2 + 1 !== kernel[1])) {
      throw new ValueError(`InceptionV3: unsupported padding for ${c.spec.name}`);
    }
    return tf.fused.conv2d({ x, filter: c.filter, strides: stride, pad, bias: c.bias, activation: 'relu' });
  }

  /** Features (B×2048) and logits (B×1008) as tensors (the caller disposes them). */
  forward(images: Tensor4D): { features: Tensor2D; logits: Tensor2D } {
    if (this.disposed) throw new ValueError('InceptionV3: used after dispose()');
    if (images.rank !== 4 || images.shape[1] !== 3) {
      throw new ShapeError(`InceptionV3: expected images (B, 3, H, W) in [-1, 1], got shape [${images.shape}]`);
    }
    const [, , h, w] = images.shape;
    const size = this.resizeTo;
    if ((size ?? Math.min(h, w)) < 75)
      throw new ShapeError(`InceptionV3: inputs must be at least 75×75 after resizing, got ${size ?? `${h}×${w}`}`);
    const tf = this.tf;
    return tf.tidy(() => {
      let x = tf.transpose(images, [0, 2, 3, 1]) as Tensor4D;
      if (size !== null && (h !== size || w !== size)) x = tf.image.resizeBilinear(x, [size, size], false, true);
      for (const op of STEM) x = this.runOp(x, op);
      for (const block of MIXED) {
        const outs: Tensor4D[] = [];
        for (const br of block.branches) {
          let y = x;
          for (const op of br.ops) y = this.runOp(y, op);
          if (br.split) outs.push(...br.split.map((op) => this.runOp(y, op)));
          else outs.push(y);
        }
        x = tf.concat(outs, 3);
      }
      const features = tf.mean(x, [1, 2]) as Tensor2D;
      const logits = tf.add(tf.matMul(features, this.fcW), this.fcB) as Tensor2D;
      return { features, logits };
    });
  }

  async extract(images: Tensor4D): Promise<ExtractorOutput> {
    const { features, logits } = this.forward(images);
    try {
      const [f, l] = await Promise.all([features.data<'float32'>(), logits.data<'float32'>()]);
      return { features: f as Float32Array, logits: l as Float32Array };
    } finally {
      features.dispose();
      logits.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    for (const c of this.convs.values()) {
      c.filter.dispose();
      c.bias.dispose();
    }
    this.fcW.dispose();
    this.fcB.dispose();
    this.disposed = true;
  }
}
