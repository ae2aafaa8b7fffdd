export * from './progress.js';
export * from './backend.js';
export * from './trainer.js';
export * from './tracked.js';
export * from './loss.js';
