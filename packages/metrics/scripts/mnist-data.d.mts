export interface MnistSet {
  /** (n, 1, 28, 28) row-major in [-1, 1]. */
  images: Float32Array;
  labels: Int32Array;
  n: number;
}
export function loadMnistSplit(opts?: { holdoutEvery?: number }): { train: MnistSet; test: MnistSet };
