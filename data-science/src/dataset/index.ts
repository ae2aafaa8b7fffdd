export * from './random.js';
export * from './csv.js';
export * from './split.js';
export * from './dataset-info.js';
export * from './augment.js';
export * from './image-source.js';
export * from './batches.js';
export * from './load.js';
