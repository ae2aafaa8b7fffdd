import type { PreprocessConfig } from '@ringcount/model-core';
import type { BatchingOptions } from './batcher.js';
import type { InputShape, ModelEngineInfo } from './model-runner.js';

/** Messages between the API's main thread and its inference workers. */
export type ToWorker =
  | { type: 'load'; id: number; key: string; dir: string; inputShape: InputShape }
  | { type: 'unload'; id: number; key: string }
  | { type: 'predict'; id: number; key: string; image: Uint8Array; preprocessing: PreprocessConfig };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'done'; id: number; output?: Float32Array; batchSize?: number; info?: ModelEngineInfo }
  /** `status`: the request was a client mistake (an `ApiError`, e.g. an undecodable image). */
  | { type: 'failed'; id: number; error: string; status?: number };

export interface WorkerData {
  batching: BatchingOptions;
}

/**
 * Test hook: when this variable names a file holding a number N > 0, the next worker that receives a
 * prediction writes N − 1 to it and exits at once, with that request in flight (so tests can crash a
 * worker mid-request deterministically). Never set outside tests.
 */
export const CRASH_HOOK_ENV = 'RINGCOUNT_TEST_WORKER_CRASH_FILE';
