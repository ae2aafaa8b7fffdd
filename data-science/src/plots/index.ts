export * from './svg.js';
export * from './curves.js';
export * from './confusion.js';
