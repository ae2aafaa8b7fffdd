import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { onnxRuntimeStatus } from '@ringcount/model-core';
import { crossEntropy } from '../training/loss.js';

/**
 * Synchronous data-parallel training on one machine: each batch is split into shards, one per
 * replica — the calling thread's and one per `worker_threads` worker, each worker with its own
 * TF.js backend (1 WASM thread, 1 ONNX Runtime thread) and an identical model — the shard
 * gradients are averaged weighted by shard size (the gradient of the full batch's mean loss), the
 * calling thread applies ONE optimizer step, and every step message carries the updated weights
 * to the workers, so the replicas never drift apart.
 *
 * Why: with convolutions on ONNX Runtime a training step runs almost entirely on one core (WASM
 * element-wise kernels are single-threaded); replicas put the other cores to work on everything.
 */

/** A model that a worker can rebuild: `model.toJSON()` topology plus every weight's values. */
export interface ModelDescription {
  /** `model.toJSON(undefined, false)`: the Keras-style topology `tf.models.modelFromJSON` reads. */
  topology: object;
  /** Shapes of `model.getWeights()`, in order. */
  weightShapes: number[][];
  /** All weights concatenated in `model.getWeights()` order. */
  weights: Float32Array;
}

export interface AdamSettings {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface DataParallelOptions {
  model: ModelDescription;
  /** The project's cross-entropy (`training/loss.ts`) on softmax outputs; the only loss supported. */
  loss?: 'crossEntropy';
  /** Replicas in all: the calling thread plus `replicas − 1` workers. Default `trainWorkersSetting()`. */
  replicas?: number;
  optimizer: AdamSettings;
  /** TF.js backend the workers set up; default: the calling thread's (`tf.getBackend()`). */
  backend?: 'wasm' | 'cpu' | 'tensorflow';
}

export interface BatchResult {
  /** Mean cross-entropy over the batch plus regularisation penalties, as `model.trainOnBatch` reports it. */
  loss: number;
  /** Fraction of the batch whose arg-max prediction is its class (the 'accuracy' metric). */
  accuracy: number;
}

/** What one replica computed for its shard. */
interface ShardResult {
  /** Gradients of the shard's mean loss, trainable weights concatenated in `model.trainableWeights` order. */
  grads: Float32Array;
  loss: number;
  accuracy: number;
}

/** Messages to a worker. */
export type ToWorker =
  | { type: 'init'; topology: object; weightShapes: number[][]; weights: Float32Array; backend: string }
  | { type: 'step'; id: number; weights: Float32Array; xs: Float32Array; classes: Int32Array; numClasses: number };

/** Messages from a worker. */
export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'result'; id: number; grads: Float32Array; loss: number; accuracy: number }
  | { type: 'error'; id?: number; message: string };

/**
 * Replicas from `RINGCOUNT_TRAIN_WORKERS` (1 = the single-threaded path, no workers), else 2 when
 * the machine has at least 2 CPUs, else 1.
 */
export function trainWorkersSetting(): number {
  const v = process.env.RINGCOUNT_TRAIN_WORKERS;
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new Error(`RINGCOUNT_TRAIN_WORKERS='${v}' must be an integer from 1 (no workers) to 64 (replicas in all)`);
    }
    return n;
  }
  return os.availableParallelism() >= 2 ? 2 : 1;
}

/** Serialises a Sequential/LayersModel so a worker can rebuild it with the same weights. */
export function describeModel(model: tf.LayersModel): ModelDescription {
  const values = model.getWeights();
  const weightShapes = values.map((w) => w.shape.slice());
  const weights = new Float32Array(values.reduce((n, w) => n + w.size, 0));
  let offset = 0;
  for (const w of values) {
    if (w.dtype !== 'float32') throw new Error(`describeModel: weight of dtype ${w.dtype}; only float32 weights can be replicated`);
    weights.set(w.dataSync() as Float32Array, offset);
    offset += w.size;
  }
  return { topology: model.toJSON(undefined, false) as object, weightShapes, weights };
}

/** Rebuilds a model from its description (topology, then weights). */
export async function buildFromDescription(topology: object, weightShapes: number[][], weights: Float32Array): Promise<tf.LayersModel> {
  const model = await tf.models.modelFromJSON({ modelTopology: topology } as tf.io.ModelJSON);
  setFlatWeights(model, weightShapes, weights);
  return model;
}

/** Writes `flat` (all weights concatenated in `getWeights()` order) into the model's variables. */
export function setFlatWeights(model: tf.LayersModel, weightShapes: number[][], flat: Float32Array): void {
  const vars = model.weights;
  if (vars.length !== weightShapes.length) throw new Error(`model has ${vars.length} weights, the description ${weightShapes.length}`);
  let offset = 0;
  tf.tidy(() => {
    vars.forEach((v, i) => {
      const size = weightShapes[i]!.reduce((a, b) => a * b, 1);
      v.write(tf.tensor(flat.subarray(offset, offset + size), weightShapes[i]));
      offset += size;
    });
  });
  if (offset !== flat.length) throw new Error(`weights hold ${flat.length} values, the shapes ${offset}`);
}

/**
 * Adam exactly as `tf.train.adam` computes it (same formula, order and bias correction; epsilon
 * from the backend when not given), on the flat weight vector in plain JS: TF.js's optimizer costs
 * ~10 ms per step in ~100 small WASM kernel calls, time during which every worker would sit idle;
 * this loop takes well under 1 ms for the project's ~100k weights.
 */
export class FlatAdam {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private accBeta1: number;
  private accBeta2: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(size: number, public learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon ?? tf.backend().epsilon();
    this.accBeta1 = beta1;
    this.accBeta2 = beta2;
  }

  /**
   * One step: `grads` holds the trainable weights' gradients back to back; `segments[i]` says where
   * trainable weight i lives in `weights` (updated in place).
   */
  step(weights: Float32Array, grads: Float32Array, segments: readonly { offset: number; size: number }[]): void {
    const { m, v, beta1, beta2, epsilon } = this;
    const c1 = 1 - this.accBeta1;
    const c2 = 1 - this.accBeta2;
    const rate = -this.learningRate;
    let g0 = 0;
    for (const { offset, size } of segments) {
      for (let j = 0; j < size; j++) {
        const k = g0 + j;
        const g = grads[k]!;
        const mk = (m[k] = beta1 * m[k]! + (1 - beta1) * g);
        const vk = (v[k] = beta2 * v[k]! + (1 - beta2) * g * g);
        weights[offset + j] = ((mk / c1) / (Math.sqrt(vk / c2) + epsilon)) * rate + weights[offset + j]!;
      }
      g0 += size;
    }
    this.accBeta1 *= beta1;
    this.accBeta2 *= beta2;
  }
}

/**
 * Gradient of the shard's mean loss (as `model.trainOnBatch` computes it: the forward pass in
 * training mode, mean cross-entropy plus regulariser penalties) with respect to the trainable
 * weights, concatenated, and the shard's loss and accuracy. Leaves no tensors behind.
 */
export function shardGradients(model: tf.LayersModel, xs: Float32Array, classes: Int32Array, numClasses: number): ShardResult {
  const n = classes.length;
  const inputShape = model.inputs[0]!.shape.slice(1) as number[];
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const regularised = model as unknown as { calculateLosses?: () => tf.Scalar[] };
  const outputs = tf.tidy((): tf.Tensor[] => {
    const x = tf.tensor(xs, [n, ...inputShape]);
    const y = tf.oneHot(tf.tensor1d(classes, 'int32'), numClasses).toFloat();
    let accuracy: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const predicted = model.apply(x, { training: true }) as tf.Tensor;
      accuracy = tf.keep(tf.mean(tf.metrics.categoricalAccuracy(y, predicted))) as tf.Scalar;
      let total: tf.Tensor = tf.mean(crossEntropy(y, predicted));
      for (const penalty of regularised.calculateLosses?.() ?? []) total = tf.add(total, penalty);
      return total as tf.Scalar;
    }, vars);
    return [value, accuracy!, ...vars.map((v) => grads[v.name]!)];
  });
  try {
    const [value, accuracy, ...grads] = outputs;
    const flat = new Float32Array(grads.reduce((s, g) => s + g.size, 0));
    let offset = 0;
    for (const g of grads) {
      flat.set(g.dataSync() as Float32Array, offset);
      offset += g.size;
    }
    return { grads: flat, loss: value!.dataSync()[0]!, accuracy: accuracy!.dataSync()[0]! };
  } finally {
    tf.dispose(outputs);
  }
}

interface Pending { resolve: (r: ShardResult) => void; reject: (e: Error) => void }

/** One worker thread and the step it is computing. */
class Replica {
  private pending = new Map<number, Pending>();
  private readyWaiter?: { resolve: () => void; reject: (e: Error) => void };
  failure?: Error;
  private stopping = false;

  constructor(readonly index: number, readonly worker: Worker) {
    // Referenced only while it owes an answer: an idle replica never keeps the process alive,
    // and a pending one keeps the event loop waiting for it.
    worker.unref();
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (e: Error) => this.fail(new Error(`data-parallel worker ${index} crashed: ${e.message}`)));
    worker.on('exit', (code) => {
      if (!this.stopping) this.fail(new Error(`data-parallel worker ${index} exited unexpectedly (code ${code}); the training step cannot complete`));
    });
  }

  ready(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.failure) { reject(this.failure); return; }
      this.worker.ref();
      this.readyWaiter = { resolve, reject };
    });
  }

  step(id: number, message: ToWorker & { type: 'step' }): Promise<ShardResult> {
    return new Promise<ShardResult>((resolve, reject) => {
      if (this.failure) { reject(this.failure); return; }
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage(message, [message.xs.buffer as ArrayBuffer, message.classes.buffer as ArrayBuffer]);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }

  private onMessage(m: FromWorker): void {
    this.settle(m);
    if (this.pending.size === 0 && this.readyWaiter === undefined) this.worker.unref();
  }

  private settle(m: FromWorker): void {
    if (m.type === 'ready') {
      this.readyWaiter?.resolve();
      this.readyWaiter = undefined;
    } else if (m.type === 'result') {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.resolve({ grads: m.grads, loss: m.loss, accuracy: m.accuracy });
    } else if (m.id === undefined) {
      this.fail(new Error(`data-parallel worker ${this.index} failed to start: ${m.message}`));
    } else {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      p?.reject(new Error(`data-parallel worker ${this.index} failed on its shard: ${m.message}`));
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.readyWaiter?.reject(error);
    this.readyWaiter = undefined;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
    this.worker.unref();
  }
}

/** Splits `n` items into `parts` contiguous shards as equal as possible (larger ones first). */
export function shardSizes(n: number, parts: number): number[] {
  const base = Math.floor(n / parts);
  return Array.from({ length: parts }, (_, i) => base + (i < n % parts ? 1 : 0));
}

/** Where the last step's time went on the calling thread, in ms. */
export interface StepTimings {
  /** Reading the weights and posting the workers their shards. */
  postMs: number;
  /** This thread's own shard (forward + backward). */
  localMs: number;
  /** Waiting for the workers after that (0 when they finished first). */
  waitMs: number;
  /** Averaging the gradients, the optimizer step and writing the weights into this thread's replica. */
  applyMs: number;
}

export class DataParallelTrainer {
  /** Timings of the last completed step (for profiling the balance between replicas). */
  lastStepTimings?: StepTimings;
  private stepId = 0;
  private busy = false;
  private disposed = false;
  /** Where each trainable weight lives in `weights`, in `model.trainableWeights` order. */
  private readonly segments: { offset: number; size: number }[];
  /**
   * Non-trainable state the forward pass updates (batch norm's moving mean and variance), by index
   * in `model.weights`: taken from this thread's replica after its shard, as PyTorch's
   * DistributedDataParallel keeps rank 0's buffers.
   */
  private readonly stateSegments: { index: number; offset: number; size: number }[];
  private readonly optimizer: FlatAdam;

  private constructor(
    private readonly model: tf.LayersModel,
    private readonly weightShapes: number[][],
    /** The trained weights, `getWeights()` order: the source of truth, written into every replica each step. */
    private readonly weights: Float32Array,
    settings: AdamSettings,
    private readonly replicas: Replica[],
  ) {
    const offsets: number[] = [];
    let offset = 0;
    for (const shape of weightShapes) {
      offsets.push(offset);
      offset += shape.reduce((a, b) => a * b, 1);
    }
    const all = model.weights;
    this.segments = model.trainableWeights.map((w) => {
      const i = all.indexOf(w);
      if (i < 0) throw new Error(`trainable weight ${w.name} is not among the model's weights`);
      return { offset: offsets[i]!, size: w.shape.reduce((a: number, b) => a * (b ?? 1), 1) };
    });
    this.stateSegments = all.flatMap((w, index) =>
      model.trainableWeights.includes(w) ? [] : [{ index, offset: offsets[index]!, size: weightShapes[index]!.reduce((a, b) => a * b, 1) }],
    );
    const trainable = this.segments.reduce((n, seg) => n + seg.size, 0);
    this.optimizer = new FlatAdam(trainable, settings.learningRate, settings.beta1, settings.beta2, settings.epsilon);
  }

  /** Replicas in all (the calling thread counts as one). */
  get replicaCount(): number {
    return this.replicas.length + 1;
  }

  /**
   * Builds the calling thread's replica and starts `replicas − 1` workers, each rebuilding the
   * model from its description; resolves once every worker has its backend and model ready.
   */
  static async create(options: DataParallelOptions): Promise<DataParallelTrainer> {
    if ((options.loss ?? 'crossEntropy') !== 'crossEntropy') throw new Error(`loss '${String(options.loss)}' is not supported; use 'crossEntropy'`);
    const count = options.replicas ?? trainWorkersSetting();
    if (!Number.isInteger(count) || count < 1) throw new Error(`replicas must be a positive integer, got ${count}`);
    const { topology, weightShapes, weights } = options.model;
    const model = await buildFromDescription(topology, weightShapes, weights);
    const backend = options.backend ?? tf.getBackend();
    const workerFile = path.join(__dirname, 'data-parallel-worker.js');
    // ONNX Runtime's addon must be loaded by this thread before any worker loads it (see README).
    onnxRuntimeStatus();
    const replicas: Replica[] = [];
    try {
      for (let i = 1; i < count; i++) {
        const worker = new Worker(workerFile, {
          // One thread per replica: the replicas are the parallelism.
          env: { ...process.env, RINGCOUNT_ORT_THREADS: '1', RINGCOUNT_WASM_THREADS: '1' },
        });
        replicas.push(new Replica(i, worker));
      }
      const ready = replicas.map((r) => r.ready());
      for (const r of replicas) {
        r.worker.postMessage({ type: 'init', topology, weightShapes, weights, backend } satisfies ToWorker);
      }
      await Promise.all(ready);
    } catch (error) {
      await Promise.all(replicas.map((r) => r.stop()));
      model.dispose();
      throw error;
    }
    return new DataParallelTrainer(model, weightShapes, Float32Array.from(weights), options.optimizer, replicas);
  }

  /** `create` from a built model (its topology and current weights). */
  static async fromModel(model: tf.LayersModel, options: Omit<DataParallelOptions, 'model'>): Promise<DataParallelTrainer> {
    return DataParallelTrainer.create({ ...options, model: describeModel(model) });
  }

  /**
   * One optimizer step on the batch `xs` (images concatenated, the model's input shape each) with
   * integer `classes`. Resolves with the batch's mean loss and accuracy (NaN when training has
   * diverged: check it); rejects when a worker fails or crashes.
   */
  async trainOnBatch(xs: Float32Array, classes: Int32Array | readonly number[], numClasses: number): Promise<BatchResult> {
    if (this.disposed) throw new Error('DataParallelTrainer.trainOnBatch after dispose()');
    if (this.busy) throw new Error('DataParallelTrainer.trainOnBatch called again before the previous step finished');
    const n = classes.length;
    const perImage = (this.model.inputs[0]!.shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
    if (n === 0) throw new Error('trainOnBatch: empty batch');
    if (xs.length !== n * perImage) {
      throw new Error(`trainOnBatch: ${xs.length} input values for ${n} classes; expected ${n} × ${perImage} (the model's input shape)`);
    }
    const outputUnits = this.model.outputs[0]!.shape[this.model.outputs[0]!.shape.length - 1];
    if (outputUnits !== numClasses) throw new Error(`trainOnBatch: numClasses ${numClasses} but the model outputs ${outputUnits} classes`);
    const labels = Int32Array.from(classes);
    const bad = labels.findIndex((c) => !(c >= 0 && c < numClasses));
    if (bad >= 0) throw new Error(`trainOnBatch: class ${labels[bad]} at index ${bad} is outside 0..${numClasses - 1}`);
    const failed = this.replicas.find((r) => r.failure);
    if (failed) throw failed.failure!;

    this.busy = true;
    try {
      const t0 = performance.now();
      const sizes = shardSizes(n, this.replicaCount);
      const weights = this.weights;
      const id = ++this.stepId;
      // Workers first, so they compute while this thread does its own shard.
      const remote: Promise<ShardResult>[] = [];
      let start = sizes[0]!;
      this.replicas.forEach((replica, i) => {
        const size = sizes[i + 1]!;
        if (size === 0) return;
        remote.push(replica.step(id, {
          type: 'step', id, weights, numClasses,
          xs: xs.slice(start * perImage, (start + size) * perImage), classes: labels.slice(start, start + size),
        }));
        start += size;
      });
      // A rejected worker step must not go unhandled while this thread computes its shard.
      const settled = Promise.allSettled(remote);
      const t1 = performance.now();
      const local = shardGradients(this.model, xs.subarray(0, sizes[0]! * perImage), labels.subarray(0, sizes[0]), numClasses);
      const t2 = performance.now();
      const outcomes = await settled;
      const t3 = performance.now();
      const rejected = outcomes.find((o) => o.status === 'rejected');
      if (rejected) throw (rejected as PromiseRejectedResult).reason as Error;
      const results = [local, ...outcomes.map((o) => (o as PromiseFulfilledResult<ShardResult>).value)];
      const used = sizes.filter((s) => s > 0);
      const result = this.applyAveraged(results, used, n);
      this.lastStepTimings = { postMs: t1 - t0, localMs: t2 - t1, waitMs: t3 - t2, applyMs: performance.now() - t3 };
      return result;
    } finally {
      this.busy = false;
    }
  }

  /** Weighted mean of the shard gradients → one Adam step on this thread's replica. */
  private applyAveraged(results: ShardResult[], sizes: number[], n: number): BatchResult {
    const length = results[0]!.grads.length;
    const mean = new Float32Array(length);
    let loss = 0;
    let accuracy = 0;
    results.forEach((r, i) => {
      if (r.grads.length !== length) throw new Error(`replica ${i} returned ${r.grads.length} gradient values, expected ${length}`);
      const w = sizes[i]! / n;
      for (let j = 0; j < length; j++) mean[j]! += w * r.grads[j]!;
      loss += w * r.loss;
      accuracy += w * r.accuracy;
    });
    this.optimizer.step(this.weights, mean, this.segments);
    const variables = this.model.weights;
    for (const seg of this.stateSegments) {
      this.weights.set(variables[seg.index]!.read().dataSync() as Float32Array, seg.offset);
    }
    setFlatWeights(this.model, this.weightShapes, this.weights);
    return { loss, accuracy };
  }

  /** Sets the optimizer's learning rate for the following steps. */
  setLearningRate(rate: number): void {
    // Infinity is allowed, as tfjs optimizers allow it (a diverging run must still report its NaN loss).
    if (!(rate > 0)) throw new RangeError(`learning rate must be a positive number, got ${rate}`);
    this.optimizer.learningRate = rate;
  }

  /** Copies of the trained weights, in `model.getWeights()` order (the caller disposes them). */
  getWeights(): tf.Tensor[] {
    return this.model.getWeights().map((w) => w.clone());
  }

  /** Writes the trained weights into `target` (a model of the same architecture). */
  syncTo(target: tf.LayersModel): void {
    const weights = this.model.getWeights();
    target.setWeights(weights);
  }

  /** Stops the workers and frees this thread's replica and optimizer state. Idempotent. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all(this.replicas.map((r) => r.stop()));
    this.model.dispose();
  }
}
