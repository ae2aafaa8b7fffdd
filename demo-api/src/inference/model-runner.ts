import * as tf from '@tensorflow/tfjs';
import { fileSystemIO, maxDifferenceFromTfjs, type OnnxConversion, onnxRuntimeStatus, setupBackend, SyncOnnxSession, tfjsToOnnx } from '@ringcount/model-core';

export type InputShape = [number, number, number];

/** Which engine runs a loaded model, for `/deployed_version/`, `/ready` and the metrics. */
export interface ModelEngineInfo {
  /** `onnxruntime` (native kernels) or `tfjs` (the TF.js backend, normally WASM). */
  engine: 'onnxruntime' | 'tfjs';
  /** For example `onnxruntime-node 1.23.2, 1 thread` or `tfjs wasm×1`. */
  detail: string;
  /** Why ONNX Runtime does not serve this model, when it does not. */
  fallbackReason?: string;
}

/**
 * The converted graph must answer what TF.js answers: softmax outputs agree to ~1e-6 in practice,
 * so a larger gap means a conversion bug, and the model then stays on TF.js.
 */
const CONVERSION_TOLERANCE = 1e-4;

type RunnerModel =
  | { kind: 'onnx'; session: SyncOnnxSession; conversion: OnnxConversion; inputShape: InputShape; info: ModelEngineInfo }
  | { kind: 'tfjs'; model: tf.LayersModel; inputShape: InputShape; info: ModelEngineInfo };

export interface RunnerOptions {
  /** WASM threads per runner; undefined lets model-core decide (RINGCOUNT_WASM_THREADS, CPUs, load). */
  wasmThreads?: number;
  /** ONNX Runtime intra-op threads per model (1 when several runners share the cores). */
  onnxThreads?: number;
}

/**
 * Holds models by key and runs batches through them, on ONNX Runtime when it is available (the TF.js
 * model is converted at load time from its verified files, and checked against TF.js on random
 * input), otherwise on TF.js. Used inside each inference worker, or on the main thread by the
 * in-process engine.
 */
export class ModelRunner {
  private readonly models = new Map<string, RunnerModel>();
  private backend: Promise<string> | undefined;

  constructor(private readonly options: RunnerOptions = {}) {}

  /** The TF.js backend (needed to read TF.js models, and the fallback engine). */
  backendName(): Promise<string> {
    this.backend ??= setupBackend(undefined, { wasmThreads: this.options.wasmThreads }).then((s) => `${s.backend}×${s.threads}`);
    return this.backend;
  }

  /** Loads a model whose directory the caller has verified, then warms it up (first runs compile kernels). */
  async load(key: string, dir: string, inputShape: InputShape): Promise<ModelEngineInfo> {
    const backend = await this.backendName();
    const existing = this.models.get(key);
    if (existing) return existing.info;
    const model = await tf.loadLayersModel(fileSystemIO(dir));
    const declared = model.inputs[0]?.shape.slice(1);
    if (!declared || declared.length !== 3 || declared.some((d, i) => d !== null && d !== inputShape[i])) {
      model.dispose();
      throw new Error(`model input shape [${String(declared)}] does not match its metadata [${inputShape.join(', ')}]`);
    }
    const converted = this.convert(model, inputShape);
    const entry: RunnerModel =
      typeof converted === 'string'
        ? { kind: 'tfjs', model, inputShape, info: { engine: 'tfjs', detail: `tfjs ${backend}`, fallbackReason: converted } }
        : converted;
    if (entry.kind === 'onnx') model.dispose();
    const warm = this.predictBatchWith(entry, [new Float32Array(inputShape[0] * inputShape[1] * inputShape[2])]);
    if (warm.length !== 1 || !warm[0]?.every(Number.isFinite)) {
      this.dispose(entry);
      throw new Error('warm-up prediction produced no finite output');
    }
    this.models.set(key, entry);
    return entry.info;
  }

  unload(key: string): void {
    const entry = this.models.get(key);
    if (entry) this.dispose(entry);
    this.models.delete(key);
  }

  predictBatch(key: string, inputs: Float32Array[]): Float32Array[] {
    const entry = this.models.get(key);
    if (!entry) throw new Error(`model '${key}' is not loaded`);
    return this.predictBatchWith(entry, inputs);
  }

  /** An ONNX Runtime model, or why the model stays on TF.js. */
  private convert(model: tf.LayersModel, inputShape: InputShape): RunnerModel | string {
    const status = onnxRuntimeStatus();
    if (!status.available) return status.reason;
    let session: SyncOnnxSession | undefined;
    try {
      const conversion = tfjsToOnnx(model);
      const threads = this.options.onnxThreads ?? 1;
      session = new SyncOnnxSession(conversion.model, { intraOpThreads: threads });
      const difference = maxDifferenceFromTfjs(model, session, conversion);
      if (!(difference <= CONVERSION_TOLERANCE)) {
        throw new Error(`the converted graph differs from TF.js by ${difference} (tolerance ${CONVERSION_TOLERANCE})`);
      }
      const info: ModelEngineInfo = { engine: 'onnxruntime', detail: `onnxruntime-node ${status.version}, ${threads} thread${threads === 1 ? '' : 's'}` };
      return { kind: 'onnx', session, conversion, inputShape, info };
    } catch (err) {
      session?.dispose();
      return `conversion to ONNX failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  }

  private dispose(entry: RunnerModel): void {
    if (entry.kind === 'onnx') entry.session.dispose();
    else entry.model.dispose();
  }

  /**
   * Whether waiting to batch requests pays off for this model: TF.js WASM costs ~2× less per image
   * in batches of 8 than alone, while ONNX Runtime costs *least* per image alone (measured on the
   * reference CNN at 128 px: 0.75 ms at batch 1, 0.85 at 4, 0.93 at 8; activations of a batch
   * overflow the caches), so ONNX models run image by image without waiting.
   */
  prefersBatches(key: string): boolean {
    return this.models.get(key)?.kind === 'tfjs';
  }

  private predictBatchWith(entry: RunnerModel, inputs: Float32Array[]): Float32Array[] {
    const [h, w, c] = entry.inputShape;
    const per = h * w * c;
    inputs.forEach((x, i) => {
      if (x.length !== per) throw new Error(`input ${i} has ${x.length} values, expected ${per}`);
    });
    if (entry.kind === 'onnx') {
      const { inputName, outputName } = entry.conversion;
      return inputs.map((x) => {
        const out = entry.session.run({ [inputName]: { data: x, dims: [1, h, w, c] } }, [outputName])[outputName];
        if (!out) throw new Error('ONNX Runtime returned no output');
        // A copy on the JS heap (a few floats): the reply transfers its buffer to the main thread.
        return out.data.slice();
      });
    }
    const flat = new Float32Array(per * inputs.length);
    inputs.forEach((x, i) => flat.set(x, i * per));
    const out = tf.tidy(() => {
      const y = entry.model.predict(tf.tensor4d(flat, [inputs.length, h, w, c]));
      return (Array.isArray(y) ? y[0] : y) as tf.Tensor;
    });
    const data = out.dataSync() as Float32Array;
    out.dispose();
    const k = data.length / inputs.length;
    return inputs.map((_, i) => data.slice(i * k, (i + 1) * k));
  }
}
