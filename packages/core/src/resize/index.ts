export { interpolate } from './interpolate.js';
export { interpolationMatrix, BICUBIC_A, type ResizeMode } from './matrix.js';
