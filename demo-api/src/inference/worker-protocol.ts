import type { BatchingOptions } from './batcher.js';
import type { InputShape } from './model-runner.js';

/** Messages between the API's main thread and its inference workers. */
export type ToWorker =
  | { type: 'load'; id: number; key: string; dir: string; inputShape: InputShape }
  | { type: 'unload'; id: number; key: string }
  | { type: 'predict'; id: number; key: string; input: Float32Array };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'done'; id: number; output?: Float32Array; batchSize?: number }
  | { type: 'failed'; id: number; error: string };

export interface WorkerData {
  batching: BatchingOptions;
}
