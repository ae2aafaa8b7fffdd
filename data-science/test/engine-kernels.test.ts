import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { type Backend, relativeError, runOn } from './kernel-comparison.js';
import { ortKernelsActive, registerWasmGradientKernels, setupTrainingBackend, useOrtKernels } from '../src/engine/index.js';

/**
 * The engine's WASM gradient kernels must agree with TF.js's reference `cpu` backend on random
 * shapes (strides 1/2, 'same'/'valid', batch > 1, channels 1..64) and leak nothing. The ONNX
 * Runtime convolution kernels (engine-ort-kernels.test.ts) are switched off meanwhile, so these
 * tests exercise the WASM kernels, which are the fallback when ONNX Runtime is absent.
 */


/** Deterministic pseudo-random floats in [-1, 1) (mulberry32), so failures are reproducible. */
function randomValues(count: number, seed: number, round = false): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    // Rounded values create ties (equal maxima in a pooling window) on purpose.
    out[i] = round ? Math.round(u * 4) / 4 : u * 2 - 1;
  }
  return out;
}


/** Counts backend buffers too: kernels work on raw TensorInfos that numTensors would not show. */
function liveBuffers(): { tensors: number; dataIds: number } {
  return { tensors: tf.memory().numTensors, dataIds: tf.engine().backend.numDataIds() };
}

interface ConvCase {
  batch: number; height: number; width: number; inChannels: number; outChannels: number;
  kernel: number; stride: 1 | 2; pad: 'same' | 'valid';
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
  // A reduction long enough to span several blocks in the filter gradient (with up to 2 threads);
  // one channel each way keeps the cpu reference fast.
  { batch: 4, height: 330, width: 330, inChannels: 1, outChannels: 1, kernel: 3, stride: 1, pad: 'same' },
];

function describeCase(c: ConvCase): string {
  return `${c.batch}×${c.height}×${c.width}×${c.inChannels} → ${c.outChannels}, ${c.kernel}×${c.kernel}, stride ${c.stride}, ${c.pad}`;
}

describe('engine: WASM gradient kernels', function () {
  let previousBackend: string | undefined;
  let ortWasActive = false;

  before(async function () {
    previousBackend = tf.getBackend() as string | undefined;
    registerWasmGradientKernels();
    await setupTrainingBackend('wasm');
    ortWasActive = ortKernelsActive();
    if (ortWasActive) useOrtKernels(false);
  });

  after(async function () {
    if (ortWasActive) useOrtKernels(true);
    if (previousBackend !== undefined) await tf.setBackend(previousBackend);
  });

  for (const [index, c] of convCases.entries()) {
    const xShape: [number, number, number, number] = [c.batch, c.height, c.width, c.inChannels];
    const filterShape: [number, number, number, number] = [c.kernel, c.kernel, c.inChannels, c.outChannels];
    const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, c.stride, 1, c.pad);
    const dyShape = info.outShape;
    const xValues = randomValues(tf.util.sizeFromShape(xShape), 1000 + index);
    const dyValues = randomValues(tf.util.sizeFromShape(dyShape), 2000 + index);
    const filterValues = randomValues(tf.util.sizeFromShape(filterShape), 3000 + index);

    it(`Conv2DBackpropFilter matches cpu: ${describeCase(c)}`, async function () {
      const compute = (): tf.Tensor => tf.engine().runKernel('Conv2DBackpropFilter',
        { x: tf.tensor4d(xValues, xShape), dy: tf.tensor4d(dyValues, dyShape) },
        { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', filterShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const expected = await runOn('cpu', compute);
      const actual = await runOn('wasm', compute);
      expect(relativeError(actual, expected)).to.be.below(1e-4);
    });

    it(`Conv2DBackpropInput matches cpu: ${describeCase(c)}`, async function () {
      const compute = (): tf.Tensor => tf.engine().runKernel('Conv2DBackpropInput',
        { dy: tf.tensor4d(dyValues, dyShape), filter: tf.tensor4d(filterValues, filterShape) },
        { strides: c.stride, pad: c.pad, dataFormat: 'NHWC', inputShape: xShape } as unknown as tf.NamedAttrMap) as tf.Tensor;
      const expected = await runOn('cpu', compute);
      const actual = await runOn('wasm', compute);
      expect(relativeError(actual, expected)).to.be.below(1e-4);
    });
  }

  const poolCases: Array<{ shape: [number, number, number, number]; size: number; stride: number; pad: 'same' | 'valid' }> = [
    { shape: [3, 8, 8, 16], size: 2, stride: 2, pad: 'valid' },
    { shape: [2, 7, 9, 3], size: 2, stride: 2, pad: 'valid' }, // odd: last row/column in no window
    { shape: [2, 6, 10, 5], size: 2, stride: 2, pad: 'same' },
    { shape: [2, 7, 7, 4], size: 3, stride: 1, pad: 'same' }, // overlapping windows: general path
    { shape: [2, 9, 8, 3], size: 3, stride: 2, pad: 'valid' },
  ];
  for (const [index, p] of poolCases.entries()) {
    it(`MaxPoolGrad matches cpu (ties included): ${p.shape.join('×')}, pool ${p.size}, stride ${p.stride}, ${p.pad}`, async function () {
      const xValues = randomValues(tf.util.sizeFromShape(p.shape), 4000 + index, true);
      const compute = (): tf.Tensor => {
        const x = tf.tensor4d(xValues, p.shape);
        const pooled = tf.maxPool(x, p.size, p.stride, p.pad);
        const weights = tf.tensor(randomValues(pooled.size, 5000 + index), pooled.shape);
        return tf.grad((input: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(input as tf.Tensor4D, p.size, p.stride, p.pad), weights)))(x);
      };
      const expected = await runOn('cpu', compute);
      const actual = await runOn('wasm', compute);
      expect(relativeError(actual, expected)).to.be.below(1e-6);
    });
  }

  const sumCases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
    { shape: [4, 6, 5, 16], axis: [0, 1, 2], keepDims: false }, // a conv bias gradient: fast path
    { shape: [3, 7, 2], axis: 0, keepDims: true },
    { shape: [3, 7, 2], axis: [2, 1], keepDims: false }, // trailing axes: shipped kernel
    { shape: [5, 4], axis: [0, 1], keepDims: false }, // all axes: shipped kernel
  ];
  for (const [index, c] of sumCases.entries()) {
    it(`Sum matches cpu: shape ${c.shape.join('×')}, axis ${JSON.stringify(c.axis)}, keepDims ${c.keepDims}`, async function () {
      const values = randomValues(tf.util.sizeFromShape(c.shape), 6000 + index);
      const compute = (): tf.Tensor => tf.sum(tf.tensor(values, c.shape), c.axis, c.keepDims);
      const expected = await runOn('cpu', compute);
      const actual = await runOn('wasm', compute);
      expect(relativeError(actual, expected)).to.be.below(1e-5);
      await tf.setBackend('wasm');
      expect(tf.tidy(() => compute().shape)).to.deep.equal(tf.tidy(() => tf.sum(tf.zeros(c.shape), c.axis, c.keepDims).shape));
    });
  }

  it('leaves no tensors or backend buffers behind', async function () {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(randomValues(2 * 8 * 8 * 4, 7), [2, 8, 8, 4]);
    const filter = tf.tensor4d(randomValues(3 * 3 * 4 * 8, 8), [3, 3, 4, 8]);
    const dy = tf.tensor4d(randomValues(2 * 8 * 8 * 8, 9), [2, 8, 8, 8]);
    const before = liveBuffers();
    for (let i = 0; i < 3; i++) {
      tf.tidy(() => {
        const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
          { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 4, 8] } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const dx = tf.engine().runKernel('Conv2DBackpropInput', { dy, filter },
          { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [2, 8, 8, 4] } as unknown as tf.NamedAttrMap) as tf.Tensor;
        const dPool = tf.grad((input: tf.Tensor) => tf.sum(tf.maxPool(input as tf.Tensor4D, 2, 2, 'valid')))(x);
        const biasGrad = tf.sum(dy, [0, 1, 2]);
        return [dw, dx, dPool, biasGrad];
      }).forEach((t) => t.dispose());
    }
    expect(liveBuffers()).to.deep.equal(before);
    tf.dispose([x, filter, dy]);
  });

  it('gives a small CNN the same gradients on wasm as on cpu (tf.variableGrads)', async function () {
    const size = 12;
    const inputs = randomValues(4 * size * size, 11).map((v) => (v + 1) / 2);
    const labels = [0, 2, 1, 2];
    const gradientsOn = async (backend: Backend): Promise<Map<string, Float32Array>> => {
      await tf.setBackend(backend);
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [size, size, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
          tf.layers.maxPooling2d({ poolSize: 2, name: 'p1' }),
          tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c2' }),
          tf.layers.globalAveragePooling2d({ name: 'gap' }),
          tf.layers.dense({ units: 3, name: 'out' }),
        ],
      });
      // Same weights on both backends, from the seeded generator.
      model.setWeights(model.getWeights().map((w, i) => tf.tensor(randomValues(w.size, 100 + i).map((v) => v * 0.5), w.shape)));
      const x = tf.tensor4d(inputs, [4, size, size, 1]);
      const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.predict(x) as tf.Tensor) as tf.Scalar);
      const result = new Map<string, Float32Array>();
      for (const [name, g] of Object.entries(grads)) result.set(name.replace(/_\d+$/, ''), (await g.data()) as Float32Array);
      tf.dispose([value, x, y, ...Object.values(grads)]);
      model.dispose();
      return result;
    };
    const expected = await gradientsOn('cpu');
    const actual = await gradientsOn('wasm');
    expect([...actual.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    expect(actual.size).to.equal(6);
    for (const [name, values] of expected) {
      expect(relativeError(actual.get(name) as Float32Array, values), name).to.be.below(1e-4);
    }
  });
});

describe('engine: setupTrainingBackend', function () {
  let previousBackend: string | undefined;
  before(() => { previousBackend = tf.getBackend() as string | undefined; });
  after(async () => { if (previousBackend !== undefined) await tf.setBackend(previousBackend); });

  it('selects WASM with the training kernels registered and reports its threads', async function () {
    const result = await setupTrainingBackend('wasm');
    expect(result.backend).to.equal('wasm');
    expect(result.tag).to.equal(result.convolutions === 'onnxruntime' ? 'wasm+onnxruntime' : 'wasm');
    expect(result.threads).to.be.at.least(1);
    expect(tf.getBackend()).to.equal('wasm');
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).to.not.equal(undefined);
  });

  it('honours an explicit cpu choice', async function () {
    expect(await setupTrainingBackend('cpu')).to.deep.equal({ backend: 'cpu', threads: 1, tag: 'cpu' });
    expect(tf.getBackend()).to.equal('cpu');
  });

  it('rejects a bad RINGCOUNT_BACKEND with a message naming the variable and the choices', async function () {
    const saved = process.env.RINGCOUNT_BACKEND;
    process.env.RINGCOUNT_BACKEND = 'gpu';
    try {
      let error: Error | undefined;
      try { await setupTrainingBackend(); } catch (e) { error = e as Error; }
      expect(error?.message).to.match(/RINGCOUNT_BACKEND='gpu'.*tensorflow, wasm, cpu/);
    } finally {
      if (saved === undefined) delete process.env.RINGCOUNT_BACKEND; else process.env.RINGCOUNT_BACKEND = saved;
    }
  });
});
