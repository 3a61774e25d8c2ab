/**
 * @var/data — image I/O, image tensors, datasets (the `ImageDataset` interface and image
 * folders; MNIST and emoji are in @var/datasets), seeded splits, transforms and
 * bounded-memory batching for var.ts. Works in Node and browsers (file-system helpers
 * import `node:fs` lazily and only in Node).
 */
export { ImageFormatError, DataIOError } from './errors.js';
export {
  decodeImage,
  encodePng,
  detectImageFormat,
  convertChannels,
  assertRawImage,
  type RawImage,
  type Channels,
  type ImageFormat,
  type DecodeOptions,
  type EncodePngOptions,
  type Background,
} from './codec.js';
export { readImage, readBytes, writePng, writeFileAtomic, isNode } from './io.js';
export {
  imageToTensor,
  imagesToTensor,
  tensorToImages,
  plannedGeometry,
  type ImageToTensorOptions,
  type TensorToImagesOptions,
  type Size,
} from './tensor.js';
export { makeGrid, type GridOptions } from './grid.js';
export { FONT_WIDTH, FONT_HEIGHT, FONT_CHARS, glyph } from './font.js';
export { rngFor, permutation, STREAMS } from './random.js';
export {
  subset,
  shuffledIndices,
  shuffleDataset,
  cacheDataset,
  splitDataset,
  classCounts,
  type ImageDataset,
  type SplitOptions,
  type Split,
} from './dataset.js';
export { imageFolderDataset, IMAGE_EXTENSIONS, type ImageFolderDataset, type ImageFolderOptions } from './datasets/folder.js';
export { resize, centerCrop, randomCrop, horizontalFlip, randomHorizontalFlip, pad, type RandomSource } from './transforms.js';
export { batches, batchesPerEpoch, type Batch, type BatchOptions } from './batches.js';
