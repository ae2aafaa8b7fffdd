import * as tf from '@tensorflow/tfjs';
import path from 'node:path';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';

/**
 * Picks the fastest backend that works here: `@tensorflow/tfjs-node` when installed (optional: its
 * install downloads libtensorflow), else WASM, else the pure-JS `cpu` backend.
 * `RINGCOUNT_BACKEND` forces one. Returns the active backend's name.
 */
export async function selectBackend(preferred: BackendName | undefined = envBackend()): Promise<BackendName> {
  const order: BackendName[] = preferred ? [preferred] : ['tensorflow', 'wasm', 'cpu'];
  for (const name of order) {
    if (await tryBackend(name)) return name;
  }
  throw new Error(`TF.js backend '${order.join(', ')}' is not available here`);
}

function envBackend(): BackendName | undefined {
  const v = process.env.RINGCOUNT_BACKEND;
  if (v === undefined || v === '') return undefined;
  if (v === 'tensorflow' || v === 'wasm' || v === 'cpu') return v;
  throw new Error(`RINGCOUNT_BACKEND='${v}' is not one of tensorflow, wasm, cpu`);
}

async function tryBackend(name: BackendName): Promise<boolean> {
  try {
    if (name === 'tensorflow') {
      require('@tensorflow/tfjs-node');
    } else if (name === 'wasm') {
      const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
      const distDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
      wasm.setWasmPaths(distDir + path.sep);
    }
    return (await tf.setBackend(name)) && tf.getBackend() === name;
  } catch {
    return false;
  }
}
