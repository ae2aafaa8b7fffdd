import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { type Backend, relativeError, runOn } from './kernel-comparison.js';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import path from 'node:path';
import { onnxRuntimeStatus } from '@ringcount/model-core';
import { ortKernelStats, ortKernelsActive, ortNchwcBlockSize, setupTrainingBackend, useOrtKernels } from '../src/engine/index.js';

/**
 * The engine's ONNX Runtime convolution kernels (wasm+onnxruntime) must agree with TF.js's `cpu`
 * backend, actually run on ONNX Runtime where they claim to (not silently fall back), train a
 * small CNN like `cpu` does, leak nothing, and the engine must still train on WASM alone when
 * ONNX Runtime is switched off.
 */


/** Deterministic pseudo-random floats in [-1, 1) (mulberry32), so failures are reproducible. */
function randomValues(count: number, seed: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}


interface Comparison { error: number; onnxRuntime: number; fallback: number; nchwc: number }

/** Runs `compute` on cpu and on wasm+onnxruntime; returns the relative error and how the wasm run was served. */
async function compareWithCpu(compute: () => tf.Tensor): Promise<Comparison> {
  const expected = await runOn('cpu', compute);
  const before = ortKernelStats();
  const actual = await runOn('wasm', compute);
  const after = ortKernelStats();
  return {
    error: relativeError(actual, expected), onnxRuntime: after.onnxRuntime - before.onnxRuntime,
    fallback: after.fallback - before.fallback, nchwc: after.nchwc - before.nchwc,
  };
}

/** Whether a convolution with these channels takes the NCHWc kernel (input channels whole blocks). */
const takesNchwc = (inChannels: number, outChannels: number): boolean =>
  ortNchwcBlockSize() > 0 && inChannels % ortNchwcBlockSize() === 0 && outChannels % 4 === 0;

interface ConvCase {
  batch: number; height: number; width: number; inChannels: number; outChannels: number;
  kernel: number; stride: 1 | 2; pad: 'same' | 'valid'; dilation?: number; chunked?: boolean;
}

const convCases: ConvCase[] = [
  { batch: 2, height: 9, width: 9, inChannels: 1, outChannels: 16, kernel: 3, stride: 1, pad: 'same' },
  { batch: 3, height: 8, width: 10, inChannels: 16, outChannels: 32, kernel: 3, stride: 1, pad: 'same' },
  { batch: 2, height: 7, width: 6, inChannels: 32, outChannels: 64, kernel: 3, stride: 1, pad: 'valid' },
  { batch: 4, height: 11, width: 9, inChannels: 3, outChannels: 8, kernel: 5, stride: 1, pad: 'same' },
  { batch: 2, height: 10, width: 10, inChannels: 8, outChannels: 4, kernel: 3, stride: 2, pad: 'same' },
  { batch: 3, height: 9, width: 11, inChannels: 5, outChannels: 7, kernel: 3, stride: 2, pad: 'valid' },
  { batch: 2, height: 6, width: 6, inChannels: 64, outChannels: 64, kernel: 1, stride: 1, pad: 'valid' },
  { batch: 2, height: 12, width: 8, inChannels: 4, outChannels: 6, kernel: 4, stride: 2, pad: 'same' },
  { batch: 2, height: 13, width: 12, inChannels: 6, outChannels: 5, kernel: 3, stride: 1, pad: 'same', dilation: 2 },
  // Enough images for the forward and input-gradient kernels to run in two batch chunks (its
  // filter gradient, not chunked, is left out: cpu takes ~45 s for it).
  { batch: 40, height: 40, width: 36, inChannels: 16, outChannels: 24, kernel: 3, stride: 1, pad: 'same', chunked: true },
];

const describeCase = (c: ConvCase): string =>
  `${c.batch}×${c.height}×${c.width}×${c.inChannels} → ${c.outChannels}, ${c.kernel}×${c.kernel}, stride ${c.stride}, ${c.pad}` +
  (c.dilation ? `, dilation ${c.dilation}` : '');

/** Forward convolutions of one or two input channels deliberately run on XNNPACK (faster there). */
const forwardOnOnnxRuntime = (c: ConvCase): boolean => c.inChannels > 2;

describe('engine: ONNX Runtime convolution kernels (wasm+onnxruntime)', function () {
  let previousBackend: string | undefined;

  before(async function () {
    const status = onnxRuntimeStatus();
    if (!status.available) {
      console.log(`    (skipped: ${status.reason})`);
      this.skip();
    }
    previousBackend = tf.getBackend() as string | undefined;
    const setup = await setupTrainingBackend('wasm');
    expect(setup).to.include({ backend: 'wasm', convolutions: 'onnxruntime', tag: 'wasm+onnxruntime' });
    expect(ortKernelsActive()).to.equal(true);
  });

  after(async function () {
    if (previousBackend !== undefined) await tf.setBackend(previousBackend);
  });

  for (const [index, c] of convCases.entries()) {
    const xShape: [number, number, number, number] = [c.batch, c.height, c.width, c.inChannels];
    const filterShape: [number, number, number, number] = [c.kernel, c.kernel, c.inChannels, c.outChannels];
    const dilation = c.dilation ?? 1;
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, dilation, c.pad);
    const dyShape = info.outShape;
    const xValues = randomValues(tf.util.sizeFromShape(xShape), 1000 + index);
    const dyValues = randomValues(tf.util.sizeFromShape(dyShape), 2000 + index);
    const filterValues = randomValues(tf.util.sizeFromShape(filterShape), 3000 + index);
    const biasValues = randomValues(c.outChannels, 4000 + index);

    it(`Conv2D matches cpu: ${describeCase(c)}`, async function () {
      const r = await compareWithCpu(() =>
        tf.conv2d(tf.tensor4d(xValues, xShape), tf.tensor4d(filterValues, filterShape), c.stride, c.pad, 'NHWC', dilation));
      expect(r.error).to.be.below(1e-4);
      expect(r.fallback).to.equal(0);
      expect(r.onnxRuntime).to.equal(forwardOnOnnxRuntime(c) ? 1 : 0);
      expect(r.nchwc).to.equal(forwardOnOnnxRuntime(c) && takesNchwc(c.inChannels, c.outChannels) ? 1 : 0);
    });

    it(`FusedConv2D (bias + relu) matches cpu: ${describeCase(c)}`, async function () {
      const r = await compareWithCpu(() => tf.fused.conv2d({
        x: tf.tensor4d(xValues, xShape), filter: tf.tensor4d(filterValues, filterShape), strides: c.stride, pad: c.pad,
        dilations: dilation, bias: tf.tensor1d(biasValues), activation: 'relu',
      }));
      expect(r.error).to.be.below(1e-4);
      expect(r.fallback).to.equal(0);
      expect(r.onnxRuntime).to.equal(forwardOnOnnxRuntime(c) ? 1 : 0);
      expect(r.nchwc).to.equal(forwardOnOnnxRuntime(c) && takesNchwc(c.inChannels, c.outChannels) ? 1 : 0);
    });

    if (dilation !== 1) continue; // TF.js has no dilated gradient kernels

    it(`Conv2DBackpropInput matches cpu: ${describeCase(c)}`, async function () {
      const r = await compareWithCpu(() => tf.engine().runKernel('Conv2DBackpropInput',
        { dy: tf.tensor4d(dyValues, dyShape), filter: tf.tensor4d(filterValues, filterShape) },
        { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: xShape } as unknown as tf.NamedAttrMap) as tf.Tensor);
      expect(r.error).to.be.below(1e-4);
      expect(r).to.include({ onnxRuntime: 1, fallback: 0 });
      // Stride 1 runs as a convolution of dy (Cout channels in, Cin out); strided as ConvTranspose.
      expect(r.nchwc).to.equal(c.stride === 1 && takesNchwc(c.outChannels, c.inChannels) ? 1 : 0);
    });

    if (c.chunked) continue;
    it(`Conv2DBackpropFilter matches cpu: ${describeCase(c)}`, async function () {
      const r = await compareWithCpu(() => tf.engine().runKernel('Conv2DBackpropFilter',
        { x: tf.tensor4d(xValues, xShape), dy: tf.tensor4d(dyValues, dyShape) },
        { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor);
      expect(r.error).to.be.below(1e-4);
      expect(r).to.include({ onnxRuntime: 1, fallback: 0 });
    });
  }

  for (const inChannels of [4, 16]) it(`other activations (relu6, leakyrelu, sigmoid, elu, prelu, linear without bias) match cpu, ${inChannels} input channels`, async function () {
    const xShape: [number, number, number, number] = [2, 7, 8, inChannels];
    const filterShape: [number, number, number, number] = [3, 3, inChannels, 6];
    const x = randomValues(2 * 7 * 8 * inChannels, 21).map((v) => v * 4);
    const f = randomValues(3 * 3 * inChannels * 6, 22);
    const bias = randomValues(6, 23);
    const slope = randomValues(6, 24);
    for (const activation of ['relu6', 'leakyrelu', 'sigmoid', 'elu', 'prelu', 'linear'] as const) {
      const r = await compareWithCpu(() => tf.fused.conv2d({
        x: tf.tensor4d(x, xShape), filter: tf.tensor4d(f, filterShape), strides: 1, pad: 'same', activation,
        ...(activation === 'linear' ? {} : { bias: tf.tensor1d(bias) }),
        ...(activation === 'prelu' ? { preluActivationWeights: tf.tensor1d(slope) } : {}),
        ...(activation === 'leakyrelu' ? { leakyreluAlpha: 0.3 } : {}),
      }));
      expect(r.error, activation).to.be.below(1e-4);
      expect(r, activation).to.include({ onnxRuntime: 1, fallback: 0 });
      // ELU and PReLU are not among the NCHWc kernel's fused activations: plain Conv graph.
      expect(r.nchwc, activation).to.equal(takesNchwc(inChannels, 6) && activation !== 'elu' && activation !== 'prelu' ? 1 : 0);
    }
  });

  it('sums over leading axes (conv bias gradients) on ONNX Runtime, small or other sums in WASM, all matching cpu', async function () {
    const cases: Array<{ shape: number[]; axis: number[]; keepDims: boolean; onOrt: number }> = [
      { shape: [8, 32, 32, 16], axis: [0, 1, 2], keepDims: false, onOrt: 1 },
      { shape: [9, 33, 35, 7], axis: [0, 1], keepDims: true, onOrt: 1 },
      { shape: [4, 6, 5, 16], axis: [0, 1, 2], keepDims: false, onOrt: 0 }, // small: JS
      { shape: [8, 32, 32, 16], axis: [3], keepDims: false, onOrt: 0 }, // trailing axis: shipped kernel
    ];
    for (const [index, c] of cases.entries()) {
      const values = randomValues(tf.util.sizeFromShape(c.shape), 70 + index);
      const r = await compareWithCpu(() => tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims));
      expect(r.error, JSON.stringify(c)).to.be.below(1e-5);
      expect(r, JSON.stringify(c)).to.include({ onnxRuntime: c.onOrt, fallback: 0 });
      await tf.setBackend('wasm');
      expect(tf.tidy(() => tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims).shape))
        .to.deep.equal(tf.tidy(() => tf.sum(tf.zeros(c.shape), c.axis, c.keepDims).shape));
    }
  });

  it('hands what ONNX pads cannot state to the WASM kernels, which still match cpu', async function () {
    // Stride 2, 'valid', one input row and column left unused: the filter-gradient convolution
    // would need a negative end pad.
    const xShape: [number, number, number, number] = [2, 10, 10, 3];
    const filterShape: [number, number, number, number] = [3, 3, 3, 4];
    const dyShape = tf.backend_util.computeConv2DInfo(xShape, filterShape, 2, 1, 'valid').outShape;
    const r = await compareWithCpu(() => tf.engine().runKernel('Conv2DBackpropFilter',
      { x: tf.tensor4d(randomValues(600, 31), xShape), dy: tf.tensor4d(randomValues(tf.util.sizeFromShape(dyShape), 32), dyShape) },
      { strides: 2, pad: 'valid', dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor);
    expect(r.error).to.be.below(1e-4);
    expect(r).to.include({ onnxRuntime: 0, fallback: 1 });
  });

  it('computes right when allocating the output grows the WASM memory (no stale heap views)', async function () {
    await tf.setBackend('wasm');
    const heapBytes = (): number => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer.byteLength;
    // An output larger than the whole current heap forces growth inside the kernel, after its
    // inputs were allocated.
    const height = 32;
    const outChannels = Math.ceil(heapBytes() / (4 * 2 * height * height)) + 8;
    const xShape: [number, number, number, number] = [2, height, height, 4];
    const filterShape: [number, number, number, number] = [1, 1, 4, outChannels];
    const x = randomValues(tf.util.sizeFromShape(xShape), 41);
    const f = randomValues(tf.util.sizeFromShape(filterShape), 42);
    const before = heapBytes();
    const compute = (): tf.Tensor => tf.conv2d(tf.tensor4d(x, xShape), tf.tensor4d(f, filterShape), 1, 'valid');
    const r = await compareWithCpu(compute);
    await tf.setBackend('wasm');
    expect(heapBytes()).to.be.above(before);
    expect(r.error).to.be.below(1e-4);
    expect(r).to.include({ onnxRuntime: 1, fallback: 0 });
  });

  it('gives a small CNN the same gradients as cpu (tf.variableGrads)', async function () {
    const size = 12;
    const inputs = randomValues(4 * size * size, 11).map((v) => (v + 1) / 2);
    const gradientsOn = async (backend: Backend): Promise<Map<string, Float32Array>> => {
      await tf.setBackend(backend);
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [size, size, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
          tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }),
          tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2' }),
          tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c3' }),
          tf.layers.globalAveragePooling2d({ name: 'gap' }),
          tf.layers.dense({ units: 3, name: 'out' }),
        ],
      });
      model.setWeights(model.getWeights().map((w, i) => tf.tensor(randomValues(w.size, 100 + i).map((v) => v * 0.5), w.shape)));
      const x = tf.tensor4d(inputs, [4, size, size, 1]);
      const y = tf.oneHot(tf.tensor1d([0, 2, 1, 2], 'int32'), 3);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar);
      const result = new Map<string, Float32Array>();
      for (const [name, g] of Object.entries(grads)) result.set(name.replace(/_\d+$/, ''), (await g.data()) as Float32Array);
      tf.dispose([value, x, y, ...Object.values(grads)]);
      model.dispose();
      return result;
    };
    const expected = await gradientsOn('cpu');
    const before = ortKernelStats();
    const actual = await gradientsOn('wasm');
    const after = ortKernelStats();
    // c2 and c3 forward, input and filter gradients, c1's filter gradient: on ONNX Runtime.
    expect(after.onnxRuntime - before.onnxRuntime).to.be.at.least(7);
    expect(actual.size).to.equal(8);
    expect([...actual.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    for (const [name, values] of expected) {
      expect(relativeError(actual.get(name) as Float32Array, values), name).to.be.below(1e-4);
    }
  });

  it('trains (trainOnBatch + Adam) like cpu, without leaking tensors or backend buffers', async function () {
    const x = randomValues(8 * 16 * 16, 51).map((v) => (v + 1) / 2);
    const labels = [0, 1, 2, 3, 0, 1, 2, 3];
    const trainOn = async (backend: Backend): Promise<{ losses: number[]; weights: Float32Array[]; leaked: [number, number] }> => {
      await tf.setBackend(backend);
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [16, 16, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.maxPooling2d({ poolSize: 2 }),
          tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
          tf.layers.globalAveragePooling2d({}),
          tf.layers.dense({ units: 4, activation: 'softmax' }),
        ],
      });
      model.setWeights(model.getWeights().map((w, i) => tf.tensor(randomValues(w.size, 200 + i).map((v) => v * 0.5), w.shape)));
      model.compile({ optimizer: tf.train.adam(1e-2), loss: 'categoricalCrossentropy' });
      const xs = tf.tensor4d(x, [8, 16, 16, 1]);
      const ys = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), 4).toFloat());
      const losses = [Number(await model.trainOnBatch(xs, ys))]; // creates the optimizer's slots
      const count = (): [number, number] => [tf.memory().numTensors, tf.engine().backend.numDataIds()];
      const before = count();
      for (let step = 0; step < 5; step++) losses.push(Number(await model.trainOnBatch(xs, ys)));
      tf.tidy(() => (model.predict(xs) as tf.Tensor).dataSync());
      const after = count();
      const weights = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
      tf.dispose([xs, ys]);
      model.dispose();
      return { losses, weights, leaked: [after[0] - before[0], after[1] - before[1]] };
    };
    const expected = await trainOn('cpu');
    const actual = await trainOn('wasm');
    expect(actual.leaked).to.deep.equal([0, 0]);
    expect(relativeError(Float32Array.from(actual.losses), Float32Array.from(expected.losses))).to.be.below(1e-4);
    actual.weights.forEach((w, i) => expect(relativeError(w, expected.weights[i] as Float32Array), `weight ${i}`).to.be.below(1e-3));
  });

  it('can be switched off in-process (useOrtKernels(false)): everything goes to the WASM kernels', async function () {
    useOrtKernels(false);
    try {
      const xShape: [number, number, number, number] = [2, 8, 8, 8];
      const filterShape: [number, number, number, number] = [3, 3, 8, 8];
      const r = await compareWithCpu(() =>
        tf.conv2d(tf.tensor4d(randomValues(1024, 61), xShape), tf.tensor4d(randomValues(576, 62), filterShape), 1, 'same'));
      expect(r.error).to.be.below(1e-4);
      expect(r).to.include({ onnxRuntime: 0, fallback: 0, nchwc: 0 });
    } finally {
      useOrtKernels(true);
    }
  });
});

describe('engine: RINGCOUNT_ONNXRUNTIME=off, RINGCOUNT_ORT_NCHWC=off', function () {
  const engineIndex = path.resolve(__dirname, '..', 'src', 'engine', 'index.js');
  // A fresh process: ONNX Runtime's availability is decided once per process.
  const childScript = `
const tf = require('@tensorflow/tfjs');
const { setupTrainingBackend, ortKernelStats } = require(${JSON.stringify(engineIndex)});
(async () => {
  const setup = await setupTrainingBackend('wasm');
  const run = () => tf.tidy(() => {
    const x = tf.randomUniform([2, 12, 12, 16], -1, 1, 'float32', 7);
    const f = tf.randomUniform([3, 3, 16, 16], -1, 1, 'float32', 8);
    const [dx, dw] = tf.grads((a, b) => tf.sum(tf.square(tf.conv2d(a, b, 1, 'same'))))([x, f]);
    return [dx, dw].map((t) => Array.from(t.dataSync()));
  });
  const [wasmDx, wasmDw] = run();
  await tf.setBackend('cpu');
  const [cpuDx, cpuDw] = run();
  const maxRel = (a, b) => { let d = 0, m = 0; b.forEach((v, i) => { d = Math.max(d, Math.abs(a[i] - v)); m = Math.max(m, Math.abs(v)); }); return d / m; };
  console.log(JSON.stringify({ ...setup, dxError: maxRel(wasmDx, cpuDx), dwError: maxRel(wasmDw, cpuDw), stats: ortKernelStats() }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

  const spawnChild = (env: Record<string, string>): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, ['-e', childScript], {
      encoding: 'utf8', timeout: 120_000, env: { ...process.env, RINGCOUNT_WASM_THREADS: '1', ...env },
      cwd: path.resolve(__dirname, '..', '..'),
    });

  function runChild(env: Record<string, string>): Record<string, unknown> {
    const child = spawnChild(env);
    expect(child.status, child.stderr).to.equal(0);
    const line = (child.stdout ?? '').trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '{}';
    return JSON.parse(line) as Record<string, unknown>;
  }

  it('RINGCOUNT_ONNXRUNTIME=off: trains on WASM alone, reports it, and matches cpu', function () {
    const result = runChild({ RINGCOUNT_ONNXRUNTIME: 'off' });
    expect(result).to.include({ backend: 'wasm', convolutions: 'wasm', tag: 'wasm' });
    expect(result.onnxRuntimeThreads).to.equal(undefined);
    expect(result.stats).to.deep.equal({ onnxRuntime: 0, fallback: 0, nchwc: 0 });
    expect(result.dxError).to.be.below(1e-4);
    expect(result.dwError).to.be.below(1e-4);
  });

  it('RINGCOUNT_ORT_NCHWC=off: convolutions on plain ONNX Runtime graphs, matching cpu', function () {
    if (!onnxRuntimeStatus().available) this.skip();
    const result = runChild({ RINGCOUNT_ORT_NCHWC: 'off' });
    expect(result).to.include({ backend: 'wasm', convolutions: 'onnxruntime', tag: 'wasm+onnxruntime' });
    const stats = result.stats as { onnxRuntime: number; fallback: number; nchwc: number };
    expect(stats.onnxRuntime).to.be.at.least(3); // forward, input and filter gradients
    expect(stats.nchwc).to.equal(0);
    expect(result.dxError).to.be.below(1e-4);
    expect(result.dwError).to.be.below(1e-4);
  });

  it('refuses a bad RINGCOUNT_ORT_THREADS, naming the variable', function () {
    if (!onnxRuntimeStatus().available) this.skip();
    const child = spawnChild({ RINGCOUNT_ORT_THREADS: 'lots' });
    expect(child.status).to.not.equal(0);
    expect(child.stderr).to.match(/RINGCOUNT_ORT_THREADS='lots' is not a positive integer/);
  });
});
