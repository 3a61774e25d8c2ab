/** Messages between the page (main.ts) and the generation worker (worker.ts). */
import type { BackendName } from '@var/core';

/**
 * Where a model comes from: a registry id in the build's `models/` folder, a model directory
 * URL, checkpoint files the user opened (`.pth` / `.safetensors`, with a preset or a config
 * file), or an opened model kept in the cache.
 */
export type ModelSource =
  | { kind: 'url'; url: string }
  | { kind: 'id'; id: string; root: string }
  | { kind: 'files'; vae: File; var: File; preset?: string; config?: File }
  | { kind: 'cached'; key: string };

export interface SampleParams {
  /** One label per image (numClasses = unconditional), or one label for the whole batch. */
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

/** An image the user picked: encoded bytes (PNG/JPEG), or RGBA pixels the browser decoded. */
export type ImageInput =
  | { kind: 'bytes'; bytes: ArrayBuffer; name: string }
  | { kind: 'rgba'; width: number; height: number; data: Uint8ClampedArray; name: string };

export interface EditParams extends SampleParams {
  /** Tokens per scale of one generated image (1, pn·pn) — or `image`. */
  inputTokens?: Int32Array[];
  /** An uploaded image (decoded, centre-cropped and resized in the worker as the CLI does). */
  image?: ImageInput;
  /** (H, W) rows, 1 = keep the input, 0 = generate. */
  mask: number[][];
}

export type ToWorker =
  | { type: 'init'; backend: BackendName; wasmPaths: string; registryRoot: string; threads?: number }
  | { type: 'load'; source: ModelSource }
  | { type: 'generate'; reqId: number; params: SampleParams }
  | { type: 'edit'; reqId: number; params: EditParams }
  | { type: 'import-image'; reqId: number; image: ImageInput }
  | { type: 'cache-list' }
  | { type: 'cache-clear' }
  /** Remove one opened model (its `CacheEntry.key`) from the browser's storage. */
  | { type: 'cache-remove'; key: string }
  | { type: 'stop' };

export interface BackendReport {
  name: string;
  requested: string;
  reason: string;
  threads?: number;
  /** Threads asked for (wasm). */
  threadsWanted?: number;
  wasmBinary?: string;
  adapter?: string;
  crossOriginIsolated: boolean;
  /** navigator.hardwareConcurrency in the worker. */
  cores: number;
  /** WebGPU: the limits requested from the adapter (and what it offers). */
  limits?: Record<string, { requested: number; adapter: number }>;
}

export interface ModelEntry {
  id: string;
  name: string;
  description: string;
  bundled: boolean;
  /** Bytes of its files, when the build's index says. */
  bytes?: number;
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

/** RGBA images of one batch, each `width`×`height` (gray models give gray RGBA). */
export interface Pictures {
  width: number;
  height: number;
  /** Channels of the model's images (1 = gray, shown as gray RGBA). */
  channels: number;
  rgba: Uint8ClampedArray[];
}

/** A model kept in this browser: downloads in Cache Storage, opened files in OPFS. */
export interface CacheEntry {
  /** For opened models: the key to load it again ({ kind: 'cached', key }) or remove it. */
  key?: string;
  label: string;
  kind: 'bundled' | 'url' | 'opened';
  bytes: number;
  files: number;
  /** Where it is kept: Cache Storage (downloads) or the origin-private file system (opened files). */
  store: 'cache' | 'opfs';
}

/** An opened model being copied into the browser's storage (OPFS) after it loaded. */
export interface KeepingProgress {
  label: string;
  loaded: number;
  total: number;
}

export type FromWorker =
  | { type: 'backend'; info: BackendReport }
  | { type: 'backend-error'; message: string }
  | { type: 'models'; models: ModelEntry[] }
  | { type: 'progress'; stage: string; file?: string; loaded: number; total: number; fromCache?: boolean }
  | {
      type: 'loaded';
      card: CardSummary;
      source: string;
      ms: number;
      fromCache: boolean;
      /** Opened files: the card to keep them with (the page hands the files and this to the keeper). */
      keep?: { card: unknown; label: string };
    }
  | { type: 'load-error'; code: string; message: string }
  | { type: 'cache'; entries: CacheEntry[]; available: boolean; note?: string }
  | { type: 'imported'; reqId: number; picture: Pictures }
  | { type: 'import-error'; reqId: number; message: string }
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

/** Page → keeper worker: copy opened files into OPFS, or stop the copy in progress. */
export type ToKeeper = { type: 'keep'; vae: File; var: File; card: unknown; label: string } | { type: 'abort' };

/** Keeper worker → page: bytes copied so far, then the outcome (a key to load it, or why not). */
export type FromKeeper =
  | { type: 'keeping'; progress: KeepingProgress }
  /** The copy ended: kept (`key`) or not (`note`); `opened` is OPFS's list afterwards, `ms` the copy's time. */
  | { type: 'kept'; label: string; key?: string; note?: string; opened: CacheEntry[]; ms: number };
