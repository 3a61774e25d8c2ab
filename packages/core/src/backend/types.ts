/** Backend names accepted by {@link initBackend}. */
export type BackendName = 'auto' | 'webgpu' | 'wasm' | 'cpu' | 'tensorflow' | 'cuda';

/** A concrete backend (everything but `auto`). */
export type ConcreteBackendName = Exclude<BackendName, 'auto'>;

/** The concrete backends, fastest first: the order `auto` tries them in. */
export const BACKEND_PREFERENCE: readonly ConcreteBackendName[] = ['cuda', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/** What a WebGPU adapter says about itself (`GPUAdapter.info`). */
export interface WebGPUAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software/CPU adapters (lavapipe, SwiftShader, WARP) and fallback adapters. */
  isSoftware: boolean;
}

export interface InitBackendOptions {
  /**
   * wasm: number of threads for XNNPACK's thread pool. Default: the `VAR_WASM_THREADS`
   * environment variable if set, else the number of cores (`os.availableParallelism()` in
   * Node, `navigator.hardwareConcurrency` in browsers). 1 selects the single-threaded SIMD
   * build (no workers). At most 8 (the size of the pre-spawned pthread pool). A process can
   * initialise the wasm backend only once, so the first call fixes the count.
   */
  threads?: number;
  /**
   * wasm: where the `.wasm` binaries are served from (passed to `setWasmPaths`). In Node the
   * binaries are read from the installed package; in browsers bundlers usually need this.
   */
  wasmPaths?: string | Record<string, string>;
  /** webgpu: accept a software (CPU) adapter such as lavapipe. Default: true when asked for
   * `webgpu` by name, false for `auto` (a CPU adapter is slower than wasm). */
  allowSoftwareAdapter?: boolean;
  /** webgpu: adapter power preference. Default 'high-performance'. */
  powerPreference?: 'low-power' | 'high-performance';
  /** Log what was chosen and why (console.info). Default false. */
  verbose?: boolean;
}

/** What {@link initBackend} chose and why. */
export interface BackendInfo {
  /** The backend now active in TensorFlow.js (`tf.getBackend()`). */
  name: ConcreteBackendName;
  /** Why this backend was chosen (and, for `auto`, why faster ones were passed over). */
  reason: string;
  /** The name that was asked for. */
  requested: BackendName;
  /** wasm: threads in XNNPACK's pool (1 = single-threaded). */
  threads?: number;
  /** wasm: which binary runs: 'threaded-simd' | 'simd' | 'plain'. */
  wasmBinary?: 'threaded-simd' | 'simd' | 'plain';
  /** webgpu: the adapter in use. */
  adapterInfo?: WebGPUAdapterSummary;
  /** tensorflow/cuda: whether TensorFlow uses a GPU device. */
  gpu?: boolean;
  /** For `auto`: every backend tried, in order, with why it was or wasn't taken. */
  tried?: BackendAvailability[];
}

/** Whether a backend can run here, and why (not). */
export interface BackendAvailability {
  name: ConcreteBackendName;
  available: boolean;
  reason: string;
  /** webgpu: the adapter found. */
  adapterInfo?: WebGPUAdapterSummary;
}
