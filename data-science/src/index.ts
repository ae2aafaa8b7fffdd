export * from './dataset/index.js';
export * from './models/index.js';
export * from './evaluation/index.js';
export * from './plots/index.js';
export * from './training/index.js';
