/** Messages between the page (main.ts) and the generation worker (worker.ts). */
import type { BackendName } from '@var/core';

export type ModelSource = { kind: 'url'; url: string } | { kind: 'id'; id: string; root: string };

export interface SampleParams {
  /** One label for the whole batch (numClasses = unconditional). */
  label: number;
  count: number;
  cfg: number;
  topK: number;
  topP: number;
  seed: number;
  /** Slow motion: pause this long after each scale so fast models can be watched (does not change the result). */
  delayMs?: number;
  /** Decode an image after every scale (one decoder pass per scale). Default true. */
  previews?: boolean;
}

export interface EditParams extends SampleParams {
  /** Tokens per scale of one generated image (1, pn·pn) — or `image`. */
  inputTokens?: Int32Array[];
  /** An uploaded image, (1, 3, H, W) in [-1, 1], row-major. */
  image?: Float32Array;
  /** (H, W) rows, 1 = keep the input, 0 = generate. */
  mask: number[][];
}

export type ToWorker =
  | { type: 'init'; backend: BackendName; wasmPaths: string; registryRoot: string }
  | { type: 'load'; source: ModelSource }
  | { type: 'generate'; reqId: number; params: SampleParams }
  | { type: 'edit'; reqId: number; params: EditParams }
  | { type: 'stop' };

export interface BackendReport {
  name: string;
  requested: string;
  reason: string;
  threads?: number;
  wasmBinary?: string;
  adapter?: string;
  crossOriginIsolated: boolean;
  /** navigator.hardwareConcurrency in the worker. */
  cores: number;
}

export interface ModelEntry {
  id: string;
  name: string;
  description: string;
  bundled: boolean;
}

export interface CardSummary {
  id: string;
  name: string;
  description?: string;
  dataset: string;
  classNames: string[];
  imageSize: number;
  channels: number;
  patchNums: number[];
  vocabSize: number;
  numClasses: number;
  parameters: number;
  sampling?: { cfg?: number; topK?: number; topP?: number };
  quality?: Record<string, unknown>;
  training?: Record<string, unknown>;
}

/** RGBA images of one batch, each `size`×`size`. */
export interface Pictures {
  size: number;
  rgba: Uint8ClampedArray[];
}

export type FromWorker =
  | { type: 'backend'; info: BackendReport }
  | { type: 'backend-error'; message: string }
  | { type: 'models'; models: ModelEntry[] }
  | { type: 'progress'; stage: string; fraction: number }
  | { type: 'loaded'; card: CardSummary; source: string; ms: number }
  | { type: 'load-error'; code: string; message: string }
  | { type: 'scale'; reqId: number; si: number; pn: number; scales: number; ms: number; tokens: Int32Array; preview?: Pictures }
  | {
      type: 'done';
      reqId: number;
      kind: 'generate' | 'edit';
      tokens: Int32Array[];
      labels: Int32Array;
      images: Pictures;
      keep?: Uint8Array[];
      /** Edits: the input's tokens per scale (for uploads: as tokenised by the VQVAE here). */
      inputTokens?: Int32Array[];
      ms: number;
    }
  | { type: 'aborted'; reqId: number }
  | { type: 'error'; reqId: number; message: string };
