export * from './run-logger.js';
export * from './progress.js';
export * from './backend.js';
export * from './trainer.js';
