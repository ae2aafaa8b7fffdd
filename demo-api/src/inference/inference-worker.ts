/**
 * Inference worker process: holds its own copy of each loaded model, preprocesses the images sent
 * to it and batches their predictions, so the API's event loop only handles HTTP (decoding and
 * resampling an image costs more CPU than the forward pass on ONNX Runtime).
 *
 * A process rather than a worker thread because onnxruntime-node's addon loads in one thread per
 * process only ("Module did not self-register" in any other thread, even after the first has
 * exited): separate processes can each run ONNX Runtime, and a crashed one is replaced by a fresh
 * process that can load it again. It also keeps a native crash away from the HTTP server.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ApiError } from '../errors.js';
import { imageToModelInput } from '../image-input.js';
import { DynamicBatcher } from './batcher.js';
import { type ModelEngineInfo, ModelRunner } from './model-runner.js';
import { CRASH_HOOK_ENV, type FromWorker, type ToWorker, type WorkerData } from './worker-protocol.js';

if (!process.send) throw new Error('inference-worker.js must run as a child process with an IPC channel (WorkerPoolEngine forks it)');
const send = process.send.bind(process);
const { batching } = JSON.parse(process.argv[2] ?? '{}') as WorkerData;
// The API went away or closed the pool: nothing left to serve (a normal exit, so profilers flush).
process.on('disconnect', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
// The pool supplies the parallelism: one thread per worker for ONNX Runtime and for WASM (unless
// RINGCOUNT_WASM_THREADS says otherwise): several threads per worker would oversubscribe the cores
// and wait at the thread pools' barriers.
const runner = new ModelRunner({ wasmThreads: process.env.RINGCOUNT_WASM_THREADS ? undefined : 1, onnxThreads: 1 });
const batcher = new DynamicBatcher<Float32Array, { output: Float32Array; batchSize: number }>((key, inputs) => {
  return runner.predictBatch(key, inputs).map((output) => ({ output, batchSize: inputs.length }));
}, batching, (key) => runner.prefersBatches(key));

function reply(msg: FromWorker): void {
  if (process.connected) send(msg);
}

const crashFile = process.env[CRASH_HOOK_ENV];

/** See CRASH_HOOK_ENV: exits this worker when the test's crash budget file says so. */
function crashIfAsked(): void {
  const file = crashFile;
  if (!file) return;
  let remaining: number;
  try {
    remaining = Number(readFileSync(file, 'utf8'));
  } catch {
    return;
  }
  if (remaining > 0) {
    writeFileSync(file, String(remaining - 1));
    process.exit(70);
  }
}

type Outcome = { kind: 'predicted'; output: Float32Array; batchSize: number } | { kind: 'loaded'; info: ModelEngineInfo } | { kind: 'unloaded' };

process.on('message', (msg: ToWorker) => {
  const work = async (): Promise<Outcome> => {
    switch (msg.type) {
      case 'load':
        return { kind: 'loaded', info: await runner.load(msg.key, msg.dir, msg.inputShape) };
      case 'unload':
        runner.unload(msg.key);
        return { kind: 'unloaded' };
      case 'predict': {
        crashIfAsked();
        const input = await imageToModelInput(Buffer.from(msg.image.buffer, msg.image.byteOffset, msg.image.byteLength), msg.preprocessing);
        return { kind: 'predicted', ...(await batcher.submit(msg.key, input)) };
      }
    }
  };
  work().then(
    (out) => {
      if (out.kind === 'predicted') reply({ type: 'done', id: msg.id, output: out.output, batchSize: out.batchSize });
      else reply({ type: 'done', id: msg.id, ...(out.kind === 'loaded' ? { info: out.info } : {}) });
    },
    (err: unknown) =>
      reply({ type: 'failed', id: msg.id, error: err instanceof Error ? err.message : String(err), ...(err instanceof ApiError ? { status: err.status } : {}) }),
  );
});

runner.backendName().then(
  (backend) => reply({ type: 'ready', backend }),
  (err: unknown) => {
    throw err;
  },
);
