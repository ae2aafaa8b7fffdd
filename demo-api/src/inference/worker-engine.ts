import { type ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import type { PreprocessConfig } from '@ringcount/model-core';
import { ApiError, InferenceUnavailableError } from '../errors.js';
import type { BatchingOptions } from './batcher.js';
import type { BatchObserver, InferenceEngine } from './engine.js';
import type { InputShape, ModelEngineInfo } from './model-runner.js';
import type { FromWorker, ToWorker, WorkerData } from './worker-protocol.js';

interface Reply {
  output?: Float32Array;
  info?: ModelEngineInfo;
}

interface Slot {
  worker: ChildProcess;
  /** Settles when the worker has started (its TF.js backend is set up). */
  ready: Promise<string>;
  /** Settles when a replacement worker has reloaded the models its predecessor held. */
  restored: Promise<void>;
  pending: Map<number, { resolve: (out: Reply) => void; reject: (err: Error) => void }>;
  /** Set when the worker has exited: messages to it would never be answered. */
  exited: boolean;
}

type Job =
  | { type: 'load'; key: string; dir: string; inputShape: InputShape }
  | { type: 'unload'; key: string }
  | { type: 'predict'; key: string; image: Uint8Array; preprocessing: PreprocessConfig };

/** The worker a message went to exited before answering it. */
class WorkerExitedError extends Error {
  override name = 'WorkerExitedError';
}

/**
 * A pool of inference worker processes (see inference-worker.ts for why processes), each holding
 * every loaded model, preprocessing the images it is sent and batching their predictions.
 * Predictions go to the worker with the fewest outstanding requests. A worker that dies is replaced
 * and given the loaded models again; the predictions it had in flight are retried once on the pool
 * (the replacement, or a healthy worker), and fail with a 503 only if that worker dies too.
 */
export class WorkerPoolEngine implements InferenceEngine {
  readonly kind = 'workers' as const;
  private readonly slots: Slot[] = [];
  private readonly loaded = new Map<string, { dir: string; inputShape: InputShape }>();
  private nextId = 1;
  private closing = false;
  private backend = 'unknown';
  private crashes = 0;
  /** The environment workers start with, replacements included (as it was when the pool started). */
  private readonly env = { ...process.env };

  constructor(
    private readonly size: number,
    private readonly batching: BatchingOptions,
    private readonly onBatch: BatchObserver = () => undefined,
    private readonly log: (line: string) => void = () => undefined,
  ) {
    for (let i = 0; i < size; i++) this.slots.push(this.spawn(Promise.resolve()));
  }

  async load(key: string, dir: string, inputShape: InputShape): Promise<ModelEngineInfo> {
    let infos: (ModelEngineInfo | undefined)[];
    try {
      infos = await Promise.all(this.slots.map(async (s) => (await this.send(s, { type: 'load', key, dir, inputShape })).info));
    } catch (err) {
      await this.unload(key);
      throw err;
    }
    this.loaded.set(key, { dir, inputShape });
    // Workers decide alike; should one have fallen back to TF.js, report that one (and why).
    const info = infos.find((i) => i?.engine === 'tfjs') ?? infos[0];
    if (!info) throw new Error('inference workers reported no engine for the loaded model');
    return info;
  }

  async predict(key: string, image: Buffer, preprocessing: PreprocessConfig): Promise<Float32Array> {
    try {
      return await this.predictOnce(key, image, preprocessing);
    } catch (err) {
      if (!(err instanceof WorkerExitedError)) throw err;
    }
    try {
      return await this.predictOnce(key, image, preprocessing);
    } catch (err) {
      if (!(err instanceof WorkerExitedError)) throw err;
      throw new InferenceUnavailableError(`the inference worker crashed twice while running this prediction (${err.message}); retry the request`);
    }
  }

  async unload(key: string): Promise<void> {
    this.loaded.delete(key);
    await Promise.all(this.slots.map((s) => this.send(s, { type: 'unload', key }).catch(() => undefined)));
  }

  describe(): Record<string, unknown> {
    return { engine: this.kind, workers: this.size, backend: this.backend, crashes: this.crashes, ...this.batching };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async ({ worker }) => {
        if (worker.exitCode !== null || worker.signalCode !== null) return;
        const exited = new Promise((resolve) => worker.once('exit', resolve));
        worker.kill();
        // A worker stuck in native code does not get to handle SIGTERM: do not wait for it forever.
        const stuck = setTimeout(() => worker.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(stuck);
      }),
    );
  }

  private async predictOnce(key: string, image: Buffer, preprocessing: PreprocessConfig): Promise<Float32Array> {
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    await slot.restored;
    // Sent by copy, so the upload stays here in case the worker dies and the request is retried.
    const { output } = await this.send(slot, { type: 'predict', key, image, preprocessing });
    if (!output) throw new Error('inference worker returned no output');
    return output;
  }

  private async send(slot: Slot, job: Job): Promise<Reply> {
    await slot.ready;
    if (slot.exited) throw new WorkerExitedError('inference worker exited before the message was sent');
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.send({ ...job, id } as ToWorker, (err: Error | null) => {
        // The channel closed under the message: the exit handler rejects it as a crash.
        if (err) this.log(`could not send to an inference worker: ${err.message}`);
      });
    });
  }

  private spawn(restored: Promise<void>): Slot {
    const data: WorkerData = { batching: this.batching };
    // Advanced serialisation carries typed arrays (images in, outputs back) without JSON.
    const worker = fork(path.join(__dirname, 'inference-worker.js'), [JSON.stringify(data)], {
      serialization: 'advanced',
      env: this.env,
      execArgv: process.execArgv.filter((a) => !a.startsWith('--inspect')),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const pending: Slot['pending'] = new Map();
    let markReady!: (backend: string) => void;
    let failReady!: (err: Error) => void;
    const ready = new Promise<string>((res, rej) => ((markReady = res), (failReady = rej)));
    ready.catch(() => undefined);
    const slot: Slot = { worker, ready, restored, pending, exited: false };
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
        p?.resolve({ output: msg.output, info: msg.info });
      } else p?.reject(msg.status !== undefined ? new ApiError(msg.status, msg.error) : new Error(msg.error));
    });
    worker.on('error', (err) => {
      this.log(`inference worker failed: ${err.stack ?? err.message}`);
      failReady(new WorkerExitedError(`inference worker failed to start: ${err.message}`));
    });
    worker.on('exit', (exitCode, signal) => {
      const code = exitCode ?? signal ?? 'unknown';
      slot.exited = true;
      failReady(new WorkerExitedError(`inference worker exited with code ${code} before starting`));
      // Replace first, so the rejected requests' retries already find the replacement in the pool.
      if (!this.closing) this.replace(slot, code);
      for (const p of pending.values()) p.reject(new WorkerExitedError(`inference worker exited (code ${code})`));
      pending.clear();
    });
    return slot;
  }

  private replace(dead: Slot, code: number | string): void {
    const index = this.slots.indexOf(dead);
    if (index < 0) return;
    this.crashes++;
    this.log(`inference worker exited (code ${code}) with ${dead.pending.size} request(s) in flight; starting a replacement and retrying them`);
    let markRestored!: () => void;
    const restored = new Promise<void>((res) => (markRestored = res));
    const fresh = this.spawn(restored);
    this.slots[index] = fresh;
    const reloads = [...this.loaded].map(([key, m]) =>
      this.send(fresh, { type: 'load', key, dir: m.dir, inputShape: m.inputShape }).catch((err: unknown) => {
        this.log(`replacement inference worker could not load model ${key}: ${String(err)}`);
      }),
    );
    void Promise.all(reloads).then(markRestored);
  }
}
