import type * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import type { BackendName } from '@ringcount/model-core';
import { setupTrainingBackend } from './index.js';
import { buildFromDescription, setFlatWeights, shardGradients, type FromWorker, type ToWorker } from './data-parallel.js';

/**
 * A `DataParallelTrainer` replica (see data-parallel.ts): sets up its own TF.js backend, rebuilds
 * the model from its description, then for each step takes the current weights and its shard and
 * answers with the shard's gradients (transferred, not copied), loss and accuracy.
 */

const port = parentPort;
if (port === null) throw new Error('data-parallel-worker.js runs only as a worker thread of DataParallelTrainer');

let model: tf.LayersModel | undefined;
let weightShapes: number[][] = [];

const send = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

async function init(m: ToWorker & { type: 'init' }): Promise<void> {
  const setup = await setupTrainingBackend(m.backend as BackendName);
  weightShapes = m.weightShapes;
  model = await buildFromDescription(m.topology, m.weightShapes, m.weights);
  send({ type: 'ready', backend: setup.tag });
}

function step(m: ToWorker & { type: 'step' }): void {
  if (model === undefined) throw new Error('step before init');
  setFlatWeights(model, weightShapes, m.weights);
  const result = shardGradients(model, m.xs, m.classes, m.numClasses);
  send({ type: 'result', id: m.id, ...result }, [result.grads.buffer as ArrayBuffer]);
}

port.on('message', (m: ToWorker) => {
  if (m.type === 'init') {
    init(m).catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
    return;
  }
  try {
    step(m);
  } catch (e) {
    send({ type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
  }
});
