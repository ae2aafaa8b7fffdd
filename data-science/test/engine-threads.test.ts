import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { onnxRuntimeStatus } from '@ringcount/model-core';

/**
 * Threaded WASM in Node (model-core `setupBackend`), each case in a fresh process because the WASM
 * module is initialised once per process: it must compute the same results as `cpu`, report its
 * thread count, and let the process exit on its own (pool workers must not keep it alive).
 */

const engineIndex = path.resolve(__dirname, '..', 'src', 'engine', 'index.js');

const childScript = `
const tf = require('@tensorflow/tfjs');
const { setupTrainingBackend } = require(${JSON.stringify(engineIndex)});
(async () => {
  const setup = await setupTrainingBackend('wasm');
  const run = () => tf.tidy(() => {
    const x = tf.randomUniform([2, 16, 16, 8], -1, 1, 'float32', 7);
    const f = tf.randomUniform([3, 3, 8, 16], -1, 1, 'float32', 8);
    const y = tf.conv2d(x, f, 1, 'same');
    const dw = tf.grad((w) => tf.sum(tf.square(tf.conv2d(x, w, 1, 'same'))))(f);
    return [y, dw].map((t) => Array.from(t.dataSync()));
  });
  const [wasmY, wasmDw] = run();
  await tf.setBackend('cpu');
  const [cpuY, cpuDw] = run();
  const maxRel = (a, b) => { let d = 0, m = 0; b.forEach((v, i) => { d = Math.max(d, Math.abs(a[i] - v)); m = Math.max(m, Math.abs(v)); }); return d / m; };
  console.log(JSON.stringify({ ...setup, convError: maxRel(wasmY, cpuY), filterGradError: maxRel(wasmDw, cpuDw) }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

function runChild(env: Record<string, string>): { status: number | null; result: Record<string, number | string>; stderr: string } {
  const child = spawnSync(process.execPath, ['-e', childScript], {
    encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env },
    cwd: path.resolve(__dirname, '..', '..'),
  });
  const line = (child.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}';
  return { status: child.status, result: JSON.parse(line) as Record<string, number | string>, stderr: child.stderr ?? '' };
}

describe('engine: threaded WASM in Node', function () {
  it('runs XNNPACK on several threads, matches cpu, and exits on its own', function () {
    const { status, result, stderr } = runChild({ RINGCOUNT_WASM_THREADS: '2' });
    expect(status, `child did not exit cleanly (null = killed by the timeout): ${stderr}`).to.equal(0);
    expect(result.backend).to.equal('wasm');
    expect(result.threads).to.equal(Math.min(2, os.cpus().length));
    expect(result.convError).to.be.below(1e-4);
    expect(result.filterGradError).to.be.below(1e-4);
    // With ONNX Runtime the threaded build's SharedArrayBuffer heap takes the kernels' copy path.
    if (onnxRuntimeStatus().available) expect(result.convolutions).to.equal('onnxruntime');
  });

  it('runs single-threaded when asked (RINGCOUNT_WASM_THREADS=1)', function () {
    const { status, result, stderr } = runChild({ RINGCOUNT_WASM_THREADS: '1' });
    expect(status, stderr).to.equal(0);
    expect(result).to.include({ backend: 'wasm', threads: 1 });
    expect(result.filterGradError).to.be.below(1e-4);
  });

  it('refuses a bad RINGCOUNT_WASM_THREADS, naming the variable', function () {
    const { status, stderr } = runChild({ RINGCOUNT_WASM_THREADS: 'lots' });
    expect(status).to.not.equal(0);
    expect(stderr).to.match(/RINGCOUNT_WASM_THREADS='lots' is not a positive integer/);
  });
});
