/** See soak-options.mjs: the options of soak generation `i` (seed i, cycling cfg, top-k, top-p, more smooth). */
export function soakGenerateOptions(
  i: number,
  labels: number[],
  full: boolean,
): { labels: number[]; seed: number; cfg: number; topK: number; topP: number; moreSmooth: boolean; decode: boolean; previews: boolean };
