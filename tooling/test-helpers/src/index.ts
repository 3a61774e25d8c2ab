export * from './fixtures.js';
export * from './compare.js';
export * from './backends.js';
export * from './faults.js';
export * from './test-names.js';
export * from './torch.js';
export * from './tiny-runs.js';
export * from './process.js';
