import * as tf from '@tensorflow/tfjs';
import { type BackendName, setupBackend } from '@ringcount/model-core';
import { registerWasmGradientKernels } from './wasm-kernels.js';

export { registerWasmGradientKernels } from './wasm-kernels.js';
export { buildReferenceCnn } from './reference-cnn.js';

export interface TrainingBackend {
  /** Active TF.js backend: 'tensorflow' (tfjs-node), 'wasm' or 'cpu'. Log it as a run tag. */
  backend: string;
  /** Threads the backend computes with. */
  threads: number;
}

/**
 * Selects the backend for training: tfjs-node when installed, else WASM with this engine's
 * gradient kernels (which make CNN training possible and fast there), else `cpu`.
 * `preferred` (or `RINGCOUNT_BACKEND`) forces one. Safe to call more than once.
 */
export async function setupTrainingBackend(preferred?: BackendName): Promise<TrainingBackend> {
  // Registered before the WASM backend initialises so the shipped kernels' setup still runs.
  registerWasmGradientKernels();
  const setup = await setupBackend(preferred);
  const missing = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad']
    .filter((k) => tf.getKernel(k, setup.backend) === undefined);
  if (missing.length > 0) throw new Error(`backend '${setup.backend}' cannot train CNNs: no ${missing.join(', ')} kernel`);
  return { backend: setup.backend, threads: setup.threads };
}
