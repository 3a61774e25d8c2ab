export * from './fixtures.js';
export * from './compare.js';
export * from './backends.js';
