import * as tf from '@tensorflow/tfjs';
import { fileSystemIO, setupBackend } from '@ringcount/model-core';

export type InputShape = [number, number, number];

interface RunnerModel {
  model: tf.LayersModel;
  inputShape: InputShape;
}

/**
 * Holds TF.js models by key and runs batches through them. Used inside each inference worker, or on
 * the main thread by the in-process engine.
 */
export class ModelRunner {
  private readonly models = new Map<string, RunnerModel>();
  private backend: Promise<string> | undefined;

  /** `wasmThreads`: threads per runner; undefined lets model-core decide (RINGCOUNT_WASM_THREADS, CPUs, load). */
  constructor(private readonly wasmThreads?: number) {}

  backendName(): Promise<string> {
    this.backend ??= setupBackend(undefined, { wasmThreads: this.wasmThreads }).then((s) => `${s.backend}×${s.threads}`);
    return this.backend;
  }

  /** Loads a model whose directory the caller has verified, then warms it up (first runs compile kernels). */
  async load(key: string, dir: string, inputShape: InputShape): Promise<void> {
    await this.backendName();
    if (this.models.has(key)) return;
    const model = await tf.loadLayersModel(fileSystemIO(dir));
    const declared = model.inputs[0]?.shape.slice(1);
    if (!declared || declared.length !== 3 || declared.some((d, i) => d !== null && d !== inputShape[i])) {
      model.dispose();
      throw new Error(`model input shape [${String(declared)}] does not match its metadata [${inputShape.join(', ')}]`);
    }
    const entry = { model, inputShape };
    const warm = this.predictBatchWith(entry, [new Float32Array(inputShape[0] * inputShape[1] * inputShape[2])]);
    if (warm.length !== 1 || !warm[0]?.every(Number.isFinite)) {
      model.dispose();
      throw new Error('warm-up prediction produced no finite output');
    }
    this.models.set(key, entry);
  }

  unload(key: string): void {
    this.models.get(key)?.model.dispose();
    this.models.delete(key);
  }

  predictBatch(key: string, inputs: Float32Array[]): Float32Array[] {
    const entry = this.models.get(key);
    if (!entry) throw new Error(`model '${key}' is not loaded`);
    return this.predictBatchWith(entry, inputs);
  }

  private predictBatchWith({ model, inputShape }: RunnerModel, inputs: Float32Array[]): Float32Array[] {
    const [h, w, c] = inputShape;
    const per = h * w * c;
    const flat = new Float32Array(per * inputs.length);
    inputs.forEach((x, i) => {
      if (x.length !== per) throw new Error(`input ${i} has ${x.length} values, expected ${per}`);
      flat.set(x, i * per);
    });
    const out = tf.tidy(() => {
      const y = model.predict(tf.tensor4d(flat, [inputs.length, h, w, c]));
      return (Array.isArray(y) ? y[0] : y) as tf.Tensor;
    });
    const data = out.dataSync() as Float32Array;
    const k = out.shape[1] ?? 1;
    out.dispose();
    return inputs.map((_, i) => data.slice(i * k, (i + 1) * k));
  }
}
