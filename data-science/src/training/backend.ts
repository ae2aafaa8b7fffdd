import type { BackendName } from '@ringcount/model-core';
import { setupTrainingBackend, type TrainingBackendOptions } from '../engine/index.js';

/**
 * Picks the training backend through the project's engine: tfjs-node when installed, else WASM with
 * the engine's fast gradient kernels (convolutions on ONNX Runtime when available), else `cpu`.
 * Returns the backend's tag, e.g. `wasm+onnxruntime` (logged as a run tag).
 */
export async function setupBackendForTraining(preferred?: BackendName, options: TrainingBackendOptions = {}): Promise<string> {
  return (await setupTrainingBackend(preferred, options)).tag;
}
