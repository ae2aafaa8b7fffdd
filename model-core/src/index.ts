export * from './preprocessing.js';
export * from './metadata.js';
export * from './model-io.js';
export * from './backend.js';
export * from './onnx/index.js';
export * from './ring-centres.js';
