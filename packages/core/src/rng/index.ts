export { Rng, type RandomSource, type RngState } from './rng.js';
