import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';

/** Shared by the kernel tests: run a computation on a backend and compare it with a reference. */
export type Backend = 'cpu' | 'wasm';

/** Runs `compute` on `backend` and returns its result's values (all tensors disposed). */
export async function runOn(backend: Backend, compute: () => tf.Tensor): Promise<Float32Array> {
  await tf.setBackend(backend);
  const result = tf.tidy(compute);
  const values = (await result.data()) as Float32Array;
  result.dispose();
  return values;
}

/** Largest absolute difference relative to the reference's largest magnitude. */
export function relativeError(actual: Float32Array, expected: Float32Array): number {
  expect(actual.length).to.equal(expected.length);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs((actual[i] as number) - (expected[i] as number)));
    maxRef = Math.max(maxRef, Math.abs(expected[i] as number));
  }
  return maxDiff / Math.max(maxRef, 1e-12);
}
