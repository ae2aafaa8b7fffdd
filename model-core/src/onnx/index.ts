export * from './graph.js';
export * from './runtime.js';
export * from './tfjs-to-onnx.js';
