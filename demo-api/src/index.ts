export * from './app.js';
export * from './config.js';
export * from './errors.js';
export * from './image-input.js';
export * from './model-cache.js';
export * from './model-manager.js';
export * from './registry.js';
export * from './server.js';
