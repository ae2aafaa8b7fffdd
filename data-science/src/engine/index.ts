import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { type BackendName, onnxRuntimeStatus, setupBackend } from '@ringcount/model-core';
import { registerWasmGradientKernels } from './wasm-kernels.js';
import { ortKernelsOptions, registerOrtKernels } from './ort-kernels.js';
import { registerTrainingBatchNorm } from './batch-norm.js';

export { registerWasmGradientKernels } from './wasm-kernels.js';
export {
  registerOrtKernels, useOrtKernels, ortKernelsActive, ortKernelsOptions, ortKernelStats, ortNchwcBlockSize, ortSessionCount,
  clearOrtSessions,
} from './ort-kernels.js';
export { buildReferenceCnn } from './reference-cnn.js';
export { batchNormalization, batchNormForward, batchNormBackward, registerTrainingBatchNorm, TrainingBatchNormalization } from './batch-norm.js';
export {
  DataParallelTrainer, describeModel, trainWorkersSetting, shardSizes,
  type DataParallelOptions, type ModelDescription, type AdamSettings, type BatchResult,
} from './data-parallel.js';

export interface TrainingBackend {
  /** Active TF.js backend: 'tensorflow' (tfjs-node), 'wasm' or 'cpu'. */
  backend: string;
  /** Threads the backend computes with. */
  threads: number;
  /** Where the WASM backend's convolutions run: 'onnxruntime' or 'wasm'; undefined for other backends. */
  convolutions?: 'onnxruntime' | 'wasm';
  /** ONNX Runtime threads per convolution, when convolutions run there. */
  onnxRuntimeThreads?: number;
  /** Backend and convolution engine, e.g. 'wasm+onnxruntime': log it as the run tag. */
  tag: string;
}

export interface TrainingBackendOptions {
  /**
   * ONNX Runtime threads per convolution when `RINGCOUNT_ORT_THREADS` is not set, e.g. 1 when
   * data-parallel replicas already occupy the cores. Only the first setup in a process decides.
   */
  onnxRuntimeThreads?: number;
}

/**
 * Selects the backend for training: tfjs-node when installed, else WASM with this engine's
 * gradient kernels — and, when ONNX Runtime is available (model-core `onnxRuntimeStatus()`; env
 * `RINGCOUNT_ONNXRUNTIME=off` disables it), convolutions on ONNX Runtime — else `cpu`.
 * `preferred` (or `RINGCOUNT_BACKEND`) forces one. Safe to call more than once.
 */
export async function setupTrainingBackend(preferred?: BackendName, options: TrainingBackendOptions = {}): Promise<TrainingBackend> {
  // Registered before the WASM backend initialises so the shipped kernels' setup still runs.
  registerWasmGradientKernels();
  registerTrainingBatchNorm();
  const ort = onnxRuntimeStatus().available ? (ortKernelsOptions() ?? defaultOrtOptions(options.onnxRuntimeThreads)) : undefined;
  if (ort !== undefined) registerOrtKernels(ort);
  // With convolutions on ONNX Runtime, WASM runs only element-wise kernels (single-threaded in
  // tfjs anyway), and its single-threaded build keeps the heap an ArrayBuffer that ONNX Runtime
  // reads and writes in place (a threaded build's SharedArrayBuffer heap costs copies).
  const setup = await setupBackend(preferred, ort !== undefined && process.env.RINGCOUNT_WASM_THREADS === undefined ? { wasmThreads: 1 } : {});
  const missing = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad']
    .filter((k) => tf.getKernel(k, setup.backend) === undefined);
  if (missing.length > 0) throw new Error(`backend '${setup.backend}' cannot train CNNs: no ${missing.join(', ')} kernel`);
  if (setup.backend !== 'wasm') return { backend: setup.backend, threads: setup.threads, tag: setup.backend };
  return ort !== undefined
    ? { backend: 'wasm', threads: setup.threads, convolutions: 'onnxruntime', onnxRuntimeThreads: ort.intraOpThreads, tag: 'wasm+onnxruntime' }
    : { backend: 'wasm', threads: setup.threads, convolutions: 'wasm', tag: 'wasm' };
}

/**
 * ONNX Runtime threads: `RINGCOUNT_ORT_THREADS`, else `asked`, else all CPUs unless the machine's load already
 * fills them (then 1, as for WASM: a pool on oversubscribed cores waits for descheduled threads).
 */
function defaultOrtOptions(asked: number | undefined): { intraOpThreads: number } {
  const v = process.env.RINGCOUNT_ORT_THREADS;
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`RINGCOUNT_ORT_THREADS='${v}' is not a positive integer`);
    return { intraOpThreads: n };
  }
  if (asked !== undefined) return { intraOpThreads: Math.max(1, Math.floor(asked)) };
  const cpus = os.cpus().length;
  return { intraOpThreads: (os.loadavg()[0] ?? 0) >= cpus ? 1 : cpus };
}
