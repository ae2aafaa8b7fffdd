/**
 * ONNX Runtime, when the optional `onnxruntime-node` package is installed (it bundles its CPU runtime
 * for Linux, macOS and Windows, so it installs from npm alone). Its convolutions use native SIMD
 * (AVX2/AVX-512) kernels, several times faster than WebAssembly's 128-bit SIMD.
 *
 * `SyncOnnxSession` calls the native binding directly: the binding's `run` is synchronous (the public
 * API only wraps it in a promise), and synchronous execution is what lets TF.js kernels, which must
 * return their result synchronously, run on ONNX Runtime.
 */
import { createRequire } from 'node:module';

export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

interface NativeTensorLike {
  type: string;
  data: Float32Array;
  dims: readonly number[];
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, unknown>, options: Record<string, unknown>): Record<string, NativeTensorLike>;
  dispose(): void;
  readonly inputMetadata: unknown;
  readonly outputMetadata: unknown;
}

interface OrtModules {
  version: string;
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
  NativeSession: new () => NativeSession;
  initOrt: () => void;
}

let cached: OrtModules | string | undefined;

function loadModules(): OrtModules | string {
  if (cached !== undefined) return cached;
  if (process.env['RINGCOUNT_ONNXRUNTIME'] === 'off') {
    cached = 'disabled by RINGCOUNT_ONNXRUNTIME=off';
    return cached;
  }
  try {
    const requireHere = createRequire(__filename);
    const ort = requireHere('onnxruntime-node') as { Tensor: OrtModules['Tensor']; env: { versions?: { node?: string } } };
    const bindingModule = requireHere('onnxruntime-node/dist/binding') as {
      binding: { InferenceSession: new () => NativeSession };
      initOrt: () => void;
    };
    const packageJson = requireHere('onnxruntime-node/package.json') as { version: string };
    cached = {
      version: packageJson.version,
      Tensor: ort.Tensor,
      NativeSession: bindingModule.binding.InferenceSession,
      initOrt: bindingModule.initOrt,
    };
  } catch (error) {
    const message = (error as Error).message.split('\n')[0] ?? '';
    cached = /did not self-register/i.test(message)
      ? // Measured with 1.23.2: once the main thread has loaded the addon, worker threads can load it
        // too; if a worker thread loads it first, no other thread of the process ever can.
        'onnxruntime-node was first loaded by a worker thread, and then no other thread of the process can load ' +
        'it: call onnxRuntimeStatus() on the main thread before starting workers (or use child processes)'
      : `onnxruntime-node is not available: ${message}`;
  }
  return cached;
}

/** Whether ONNX Runtime can be used here; when not, `reason` says why (not installed, disabled, ...). */
export function onnxRuntimeStatus(): { available: true; version: string } | { available: false; reason: string } {
  const modules = loadModules();
  return typeof modules === 'string' ? { available: false, reason: modules } : { available: true, version: modules.version };
}

export interface SessionOptions {
  /** Threads for one operator; 1 when several sessions run in parallel processes or workers. */
  intraOpThreads?: number;
  /**
   * Session configuration entries (ONNX Runtime's `AddConfigEntry` keys), for example
   * `{ 'session.intra_op.allow_spinning': '0' }` so idle pool threads sleep instead of spinning.
   */
  config?: Readonly<Record<string, string>>;
}

/** An ONNX Runtime session whose `run` is synchronous. Throws when ONNX Runtime is unavailable. */
export class SyncOnnxSession {
  private readonly session: NativeSession;
  private readonly modules: OrtModules;

  constructor(model: Uint8Array, options: SessionOptions = {}) {
    const modules = loadModules();
    if (typeof modules === 'string') throw new Error(modules);
    this.modules = modules;
    modules.initOrt();
    this.session = new modules.NativeSession();
    this.session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      enableCpuMemArena: true,
      enableMemPattern: true,
      ...(options.config !== undefined ? { extra: { ...options.config } } : {}),
    });
  }

  /** Runs the graph; `outputs` names the results wanted. Result data is owned by the caller. */
  run(feeds: Readonly<Record<string, FloatTensor>>, outputs: readonly string[]): Record<string, FloatTensor> {
    const nativeFeeds: Record<string, unknown> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      nativeFeeds[name] = new this.modules.Tensor('float32', tensor.data, tensor.dims);
    }
    const fetches: Record<string, null> = {};
    for (const name of outputs) fetches[name] = null;
    const results = this.session.run(nativeFeeds, fetches, {});
    const out: Record<string, FloatTensor> = {};
    for (const name of outputs) {
      const result = results[name];
      if (result === undefined) throw new Error(`ONNX session returned no output named ${name}`);
      out[name] = { data: result.data, dims: result.dims };
    }
    return out;
  }

  /**
   * Runs the graph writing each output into the caller's array (`outputs[name].data`, whose length
   * and `dims` must match the output's shape): no result copy. The arrays must not be backed by a
   * SharedArrayBuffer (the native binding rejects those, for inputs too).
   */
  runInto(feeds: Readonly<Record<string, FloatTensor>>, outputs: Readonly<Record<string, FloatTensor>>): void {
    const nativeFeeds: Record<string, unknown> = {};
    for (const [name, tensor] of Object.entries(feeds)) {
      nativeFeeds[name] = new this.modules.Tensor('float32', tensor.data, tensor.dims);
    }
    const fetches: Record<string, unknown> = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      fetches[name] = new this.modules.Tensor('float32', tensor.data, tensor.dims);
    }
    this.session.run(nativeFeeds, fetches, {});
  }

  dispose(): void {
    this.session.dispose();
  }
}
