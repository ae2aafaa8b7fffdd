export * from './architectures.js';
