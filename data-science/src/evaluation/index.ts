export * from './metrics.js';
export * from './compare.js';
