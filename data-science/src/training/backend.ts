import type { BackendName } from '@ringcount/model-core';
import { setupTrainingBackend } from '../engine/index.js';

/**
 * Picks the training backend through the project's engine: tfjs-node when installed, else WASM with
 * the engine's fast gradient kernels, else `cpu`. Returns the backend's name (logged as a run tag).
 */
export async function setupBackendForTraining(preferred?: BackendName): Promise<string> {
  return (await setupTrainingBackend(preferred)).backend;
}
