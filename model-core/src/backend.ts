import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import path from 'node:path';
import { Worker as NodeWorker, type WorkerOptions } from 'node:worker_threads';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/** What `setupBackend` ended up with. */
export interface BackendSetup {
  backend: BackendName;
  /** Threads the backend computes with (XNNPACK's pool size for WASM; 1 for `cpu`). */
  threads: number;
  /** Why WASM runs single-threaded when more threads were asked for. */
  threadsNote?: string;
}

export interface BackendOptions {
  /**
   * Threads for the WASM backend. Default: `RINGCOUNT_WASM_THREADS`, else the number of CPUs
   * (1 while the machine's load already fills them). 1 uses the single-threaded SIMD build.
   */
  wasmThreads?: number;
}

/**
 * Picks the fastest backend that works here: `@tensorflow/tfjs-node` when installed (optional: its
 * install downloads libtensorflow), else WASM, else the pure-JS `cpu` backend.
 * `RINGCOUNT_BACKEND` forces one. Returns the active backend's name.
 */
export async function selectBackend(preferred: BackendName | undefined = envBackend()): Promise<BackendName> {
  return (await setupBackend(preferred)).backend;
}

/**
 * Like `selectBackend`, and reports threads. WASM runs multi-threaded in Node when possible (see
 * `withThreadedWasmInit`) unless the machine is already busy; otherwise single-threaded, with the
 * reason in `threadsNote`.
 */
export async function setupBackend(
  preferred: BackendName | undefined = envBackend(), options: BackendOptions = {},
): Promise<BackendSetup> {
  const order: BackendName[] = preferred ? [preferred] : ['tensorflow', 'wasm', 'cpu'];
  // Read before trying backends so a bad setting is reported, not mistaken for a missing backend.
  const asked = options.wasmThreads ?? envThreads();
  if (asked !== undefined && (!Number.isInteger(asked) || asked < 1)) throw new Error(`wasmThreads=${asked} is not a positive integer`);
  const threads = asked !== undefined ? { count: asked } : defaultWasmThreads();
  for (const name of order) {
    const setup = await trySetup(name, threads);
    if (setup) return setup;
  }
  throw new Error(`TF.js backend '${order.join(', ')}' is not available here`);
}

function envBackend(): BackendName | undefined {
  const v = process.env.RINGCOUNT_BACKEND;
  if (v === undefined || v === '') return undefined;
  if (v === 'tensorflow' || v === 'wasm' || v === 'cpu') return v;
  throw new Error(`RINGCOUNT_BACKEND='${v}' is not one of tensorflow, wasm, cpu`);
}

interface ThreadChoice { count: number; note?: string }

/**
 * All CPUs, unless other processes already keep them busy: then one thread, because a thread pool
 * on oversubscribed cores waits for descheduled threads at every barrier (measured here with load
 * 10–16 on 2 cores: 1 thread trained ~1.4× and predicted ~1.6× faster than 2).
 */
function defaultWasmThreads(): ThreadChoice {
  const cpus = os.cpus().length;
  const load = os.loadavg()[0] ?? 0;
  if (cpus > 1 && load >= cpus) {
    return { count: 1, note: `machine busy (1-min load ${load.toFixed(1)} on ${cpus} CPUs): WASM runs 1 thread; set RINGCOUNT_WASM_THREADS to override` };
  }
  return { count: cpus };
}

function envThreads(): number | undefined {
  const v = process.env.RINGCOUNT_WASM_THREADS;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`RINGCOUNT_WASM_THREADS='${v}' is not a positive integer`);
  return n;
}

async function trySetup(name: BackendName, wasmThreads: ThreadChoice): Promise<BackendSetup | undefined> {
  if (tf.getBackend() === name && name !== 'wasm') return { backend: name, threads: name === 'cpu' ? 1 : os.cpus().length };
  try {
    if (name === 'tensorflow') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- optional dependency, loaded only when present
      require('@tensorflow/tfjs-node');
      if ((await tf.setBackend(name)) && tf.getBackend() === name) return { backend: name, threads: os.cpus().length };
      return undefined;
    }
    if (name === 'wasm') return await setupWasm(wasmThreads);
    if ((await tf.setBackend(name)) && tf.getBackend() === name) return { backend: name, threads: 1 };
    return undefined;
  } catch {
    return undefined;
  }
}

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');

let wasmSetup: BackendSetup | undefined;

async function setupWasm(choice: ThreadChoice): Promise<BackendSetup | undefined> {
  const wanted = choice.count;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded lazily: importing it registers the backend
  const wasm = require('@tensorflow/tfjs-backend-wasm') as WasmModule;
  if (wasmSetup !== undefined && tf.findBackend('wasm') !== null) {
    // The WASM module is initialised once per process; later calls just switch back to it.
    return (await tf.setBackend('wasm')) ? wasmSetup : undefined;
  }
  const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
  wasm.setWasmPaths(distDir + path.sep);
  let threadsNote = choice.note;
  let ok: boolean;
  if (wanted > 1) {
    const blocker = threadedWasmBlocker();
    if (blocker === undefined) {
      ok = await withThreadedWasmInit(wasm, wanted, () => tf.setBackend('wasm'));
      if (!ok) {
        threadsNote = 'threaded WASM failed to initialise; using the single-threaded build';
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        ok = await tf.setBackend('wasm');
      }
    } else {
      threadsNote = `threaded WASM unavailable: ${blocker}`;
      ok = await tf.setBackend('wasm');
    }
  } else {
    ok = await tf.setBackend('wasm');
  }
  if (!ok || tf.getBackend() !== 'wasm') return undefined;
  const threads = wasm.getThreadsCount();
  if (threads < wanted && threadsNote === undefined) threadsNote = `WASM runs ${threads} thread(s) of ${wanted} asked for`;
  if (threadsNote !== undefined) console.warn(`[backend] ${threadsNote}`);
  wasmSetup = { backend: 'wasm', threads, ...(threadsNote !== undefined ? { threadsNote } : {}) };
  return wasmSetup;
}

const THREADED_FACTORY = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';
const THREADED_WORKER = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';

/** Why the threaded build cannot run here, or undefined when it can. */
function threadedWasmBlocker(): string | undefined {
  if (typeof SharedArrayBuffer === 'undefined') return 'SharedArrayBuffer is not available';
  try {
    require.resolve(THREADED_FACTORY);
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file of the package, resolved at run time
    const worker = require(THREADED_WORKER) as { wasmWorkerContents?: unknown };
    if (typeof worker.wasmWorkerContents !== 'string') return `${THREADED_WORKER} has no wasmWorkerContents`;
  } catch (e) {
    return `the threaded build's files are missing (${(e as Error).message})`;
  }
  return undefined;
}

/**
 * Runs `init` (which initialises the WASM backend) so that tfjs picks its threaded SIMD build.
 *
 * tfjs-backend-wasm 4.x disables threads under Node (tensorflow/tfjs#3830) because its Emscripten
 * glue starts pthread workers from `blob:` URLs, which Node's `worker_threads` refuses
 * (ERR_WORKER_PATH), and hands them the main script as a Blob. While `init` runs we:
 *  - turn the `WASM_HAS_MULTITHREAD_SUPPORT` flag on;
 *  - expose a global `Worker` that ignores the blob URL and evaluates the package's own worker
 *    script (wasm-out/…worker.js) and points the worker at the package's threaded factory file;
 *    its `ref()` is a no-op so idle pool threads never keep the process alive;
 *  - report twice the CPU count to Emscripten, because the backend sizes XNNPACK's pool as
 *    min(asked, logical cores / 2) assuming hyper-threading.
 * Everything is restored afterwards; only the pool's workers remain.
 */
async function withThreadedWasmInit(wasm: WasmModule, threads: number, init: () => Promise<boolean>): Promise<boolean> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file of the package, resolved at run time
  const workerSource = (require(THREADED_WORKER) as { wasmWorkerContents: string }).wasmWorkerContents
    // The source is a template literal whose "\n" escapes became real newlines inside string literals.
    .replace(/\n/g, '\\n');
  const factoryPath = require.resolve(THREADED_FACTORY);

  class PthreadWorker extends NodeWorker {
    constructor(_blobUrl: unknown, _options?: WorkerOptions) {
      super(workerSource, { eval: true });
    }
    override postMessage(message: unknown, transfer?: Parameters<NodeWorker['postMessage']>[1]): void {
      const m = message as { cmd?: string; urlOrBlob?: unknown } | null;
      if (m !== null && typeof m === 'object' && m.cmd === 'load' && typeof m.urlOrBlob !== 'string') {
        message = { ...m, urlOrBlob: factoryPath };
      }
      super.postMessage(message, transfer);
    }
    override ref(): void {
      // Pool threads live for the whole process; they must not stop it from exiting.
    }
  }

  const globalWorker = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  const realCpus = os.cpus;
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true, get: () => PthreadWorker, set: () => { /* Emscripten assigns worker_threads.Worker */ },
  });
  os.cpus = () => { const cpus = realCpus(); return [...cpus, ...cpus]; };
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  try {
    return await init();
  } finally {
    os.cpus = realCpus;
    if (globalWorker) Object.defineProperty(globalThis, 'Worker', globalWorker);
    else delete (globalThis as { Worker?: unknown }).Worker;
  }
}
