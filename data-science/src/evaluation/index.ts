export * from './metrics.js';
export * from './compare.js';
export * from './robustness.js';
