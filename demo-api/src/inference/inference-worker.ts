/**
 * Inference worker thread: holds its own copy of each loaded model and batches the predictions
 * sent to it, so the API's event loop never waits on a forward pass.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DynamicBatcher } from './batcher.js';
import { ModelRunner } from './model-runner.js';
import type { FromWorker, ToWorker, WorkerData } from './worker-protocol.js';

const port = parentPort;
if (!port) throw new Error('inference-worker.js must run as a worker thread');
const { batching } = workerData as WorkerData;
// The pool supplies the parallelism: one WASM thread per worker, unless RINGCOUNT_WASM_THREADS says otherwise
// (several threads per worker would oversubscribe the cores and wait at XNNPACK's barriers).
const runner = new ModelRunner(process.env.RINGCOUNT_WASM_THREADS ? undefined : 1);
const batcher = new DynamicBatcher<Float32Array, { output: Float32Array; batchSize: number }>((key, inputs) => {
  return runner.predictBatch(key, inputs).map((output) => ({ output, batchSize: inputs.length }));
}, batching);

function reply(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(msg, transfer);
}

port.on('message', (msg: ToWorker) => {
  const work = async (): Promise<{ output: Float32Array; batchSize: number } | undefined> => {
    switch (msg.type) {
      case 'load':
        await runner.load(msg.key, msg.dir, msg.inputShape);
        return undefined;
      case 'unload':
        runner.unload(msg.key);
        return undefined;
      case 'predict':
        return batcher.submit(msg.key, msg.input);
    }
  };
  work().then(
    (out) => reply({ type: 'done', id: msg.id, output: out?.output, batchSize: out?.batchSize }, out ? [out.output.buffer as ArrayBuffer] : []),
    (err: unknown) => reply({ type: 'failed', id: msg.id, error: err instanceof Error ? err.message : String(err) }),
  );
});

runner.backendName().then(
  (backend) => reply({ type: 'ready', backend }),
  (err: unknown) => {
    throw err;
  },
);
