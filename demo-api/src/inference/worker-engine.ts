import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { BatchingOptions } from './batcher.js';
import type { BatchObserver, InferenceEngine } from './engine.js';
import type { InputShape } from './model-runner.js';
import type { FromWorker, ToWorker, WorkerData } from './worker-protocol.js';

interface Slot {
  worker: Worker;
  ready: Promise<string>;
  pending: Map<number, { resolve: (out: Float32Array | undefined) => void; reject: (err: Error) => void }>;
}

type Job = { type: 'load'; key: string; dir: string; inputShape: InputShape } | { type: 'unload'; key: string } | { type: 'predict'; key: string; input: Float32Array };

/**
 * A pool of inference worker threads, each holding every loaded model and batching what it is sent.
 * Predictions go to the worker with the fewest outstanding requests. A worker that dies is replaced
 * and given the loaded models again.
 */
export class WorkerPoolEngine implements InferenceEngine {
  readonly kind = 'workers' as const;
  private readonly slots: Slot[] = [];
  private readonly loaded = new Map<string, { dir: string; inputShape: InputShape }>();
  private nextId = 1;
  private closing = false;
  private backend = 'unknown';

  constructor(
    private readonly size: number,
    private readonly batching: BatchingOptions,
    private readonly onBatch: BatchObserver = () => undefined,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  async load(key: string, dir: string, inputShape: InputShape): Promise<void> {
    try {
      await Promise.all(this.slots.map((s) => this.send(s, { type: 'load', key, dir, inputShape })));
    } catch (err) {
      await this.unload(key);
      throw err;
    }
    this.loaded.set(key, { dir, inputShape });
  }

  async predict(key: string, input: Float32Array): Promise<Float32Array> {
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const out = await this.send(slot, { type: 'predict', key, input }, [input.buffer as ArrayBuffer]);
    if (!out) throw new Error('inference worker returned no output');
    return out;
  }

  async unload(key: string): Promise<void> {
    this.loaded.delete(key);
    await Promise.all(this.slots.map((s) => this.send(s, { type: 'unload', key }).catch(() => undefined)));
  }

  describe(): Record<string, unknown> {
    return { engine: this.kind, workers: this.size, backend: this.backend, ...this.batching };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private async send(slot: Slot, job: Job, transfer: ArrayBuffer[] = []): Promise<Float32Array | undefined> {
    await slot.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ ...job, id } as ToWorker, transfer);
    });
  }

  private spawn(): Slot {
    const data: WorkerData = { batching: this.batching };
    const worker = new Worker(path.join(__dirname, 'inference-worker.js'), { workerData: data });
    const pending: Slot['pending'] = new Map();
    let markReady!: (backend: string) => void;
    let failReady!: (err: Error) => void;
    const ready = new Promise<string>((res, rej) => ((markReady = res), (failReady = rej)));
    ready.catch(() => undefined);
    const slot: Slot = { worker, ready, pending };
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') {
        this.backend = msg.backend;
        markReady(msg.backend);
        return;
      }
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.type === 'done') {
        if (msg.batchSize !== undefined) this.onBatch(msg.batchSize);
        p?.resolve(msg.output);
      }
      else p?.reject(new Error(msg.error));
    });
    worker.on('error', (err) => failReady(err));
    worker.on('exit', (code) => {
      failReady(new Error(`inference worker exited with code ${code} before starting`));
      for (const p of pending.values()) p.reject(new Error(`inference worker exited (code ${code})`));
      pending.clear();
      if (!this.closing) this.replace(slot);
    });
    return slot;
  }

  private replace(dead: Slot): void {
    const index = this.slots.indexOf(dead);
    if (index < 0) return;
    const fresh = this.spawn();
    this.slots[index] = fresh;
    for (const [key, m] of this.loaded) {
      this.send(fresh, { type: 'load', key, dir: m.dir, inputShape: m.inputShape }).catch((err: unknown) => {
        console.error(`demo-api: replacement inference worker could not load model ${key}: ${String(err)}`);
      });
    }
  }
}
