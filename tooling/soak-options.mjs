/**
 * The sampling options of the soak runs of `generate` (packages/sampling/test/soak.test.ts and
 * experiments/soak.mjs): generation `i` uses seed `i` and cycles through classifier-free
 * guidance, top-k, top-p and "more smooth", so that every code path of the sampler stays in the
 * loop; `full` also decodes the image and streams the previews.
 *
 * @param {number} i the generation's index
 * @param {number[]} labels class labels of the batch
 * @param {boolean} full decode and stream previews
 */
export function soakGenerateOptions(i, labels, full) {
  return {
    labels,
    seed: i,
    cfg: [1, 1.5, 3][i % 3],
    topK: [0, 4, 16][i % 3],
    topP: [0, 0.9][i % 2],
    moreSmooth: i % 7 === 0,
    decode: full,
    previews: full,
  };
}
