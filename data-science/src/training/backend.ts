import * as tf from '@tensorflow/tfjs';
import { type BackendName, selectBackend } from '@ringcount/model-core';

/**
 * Picks the training backend: the project's engine (`setupTrainingBackend`, fast WASM gradient
 * kernels) when built, else model-core's choice — except plain WASM, which cannot train convolutions
 * (no Conv2DBackpropFilter), so `cpu` is used instead.
 */
export async function setupBackendForTraining(preferred?: BackendName): Promise<string> {
  const engine = loadEngine();
  if (engine && preferred !== 'cpu') {
    const result = await engine.setupTrainingBackend();
    return typeof result === 'string' ? result : (result?.name ?? tf.getBackend());
  }
  const name = await selectBackend(preferred);
  if (name === 'wasm' && !canTrainConvolutions()) {
    await selectBackend('cpu');
    return 'cpu';
  }
  return name;
}

interface Engine {
  setupTrainingBackend(): Promise<string | { name?: string } | undefined>;
}

function loadEngine(): Engine | undefined {
  try {
    // Loaded at run time: the engine is built alongside this package and may not exist yet.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('../engine/index.js') as Partial<Engine>;
    return typeof mod.setupTrainingBackend === 'function' ? (mod as Engine) : undefined;
  } catch {
    return undefined;
  }
}

function canTrainConvolutions(): boolean {
  return tf.getKernel('Conv2DBackpropFilter', tf.getBackend()) !== undefined;
}
