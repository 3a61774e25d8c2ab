export * from './errors.js';
export * from './resize/index.js';
export * from './rng/index.js';
export * from './backend/index.js';
export * from './optim/adamw.js';
export * from './fs/atomic.js';
