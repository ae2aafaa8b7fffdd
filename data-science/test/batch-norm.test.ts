import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { batchNormalization, batchNormBackward, batchNormForward, registerTrainingBatchNorm, setupTrainingBackend, TrainingBatchNormalization } from '../src/engine/index.js';

/**
 * The fused batch norm against TF.js's own layer: same outputs, gradients (through the batch
 * statistics) and moving statistics in training; the stock computation in inference; saved as a
 * standard BatchNormalization layer.
 */

type Layer = ReturnType<typeof tf.layers.batchNormalization>;

function layerPair(shape: number[]): [Layer, Layer] {
  const args = { momentum: 0.8, epsilon: 1e-3, gammaInitializer: tf.initializers.randomNormal({ seed: 3 }), betaInitializer: tf.initializers.randomNormal({ seed: 4 }) };
  const stock = tf.layers.batchNormalization(args);
  const fused = batchNormalization(args);
  stock.build(shape);
  fused.build(shape);
  fused.setWeights(stock.getWeights());
  return [stock, fused];
}

/** Output, gradients (x, γ, β) of Σ y·w, and the weights after the step. */
function trainingStep(layer: Layer, x: tf.Tensor, w: tf.Tensor): { y: Float32Array; dx: Float32Array; dGamma: Float32Array; dBeta: Float32Array; weights: Float32Array[] } {
  return tf.tidy(() => {
    const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
    let y: Float32Array | undefined;
    const { grads } = tf.variableGrads(() => {
      const out = layer.apply(x, { training: true }) as tf.Tensor;
      y = out.dataSync() as Float32Array;
      return tf.sum(tf.mul(out, w)) as tf.Scalar;
    }, [gamma!, beta!]);
    const inputGrad = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w)))(x);
    return {
      y: y!,
      dx: inputGrad.dataSync() as Float32Array,
      dGamma: grads[gamma!.name]!.dataSync() as Float32Array,
      dBeta: grads[beta!.name]!.dataSync() as Float32Array,
      weights: layer.getWeights().map((t) => t.dataSync() as Float32Array),
    };
  });
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

describe('fused batch normalization (training engine)', function () {
  this.timeout(60_000);
  before(async () => {
    await setupTrainingBackend();
  });

  for (const backend of ['cpu', 'wasm']) {
    for (const shape of [[3, 5, 4, 6], [7, 5]]) {
      it(`matches tf.layers.batchNormalization in training on ${backend}, input ${JSON.stringify(shape)}: output, gradients, moving statistics`, async () => {
        const saved = tf.getBackend();
        await tf.setBackend(backend);
        try {
          // A mean far from zero against the spread, as after a convolution: needs the two-pass variance.
          const x = tf.add(tf.randomNormal(shape, 0, 3, 'float32', 1), 40);
          const w = tf.randomNormal(shape, 0, 1, 'float32', 2);
          const [stock, fused] = layerPair(shape);
          // Tensors left behind by a step: TF.js's own layer leaves one under tf.grad (the moving
          // statistics' update on the tape); the fused one must leave no more.
          let count = tf.memory().numTensors;
          const expected = trainingStep(stock, x, w);
          const stockLeft = tf.memory().numTensors - count;
          count = tf.memory().numTensors;
          const got = trainingStep(fused, x, w);
          expect(tf.memory().numTensors - count, 'tensors left by a fused step').to.be.at.most(stockLeft);
          expect(maxDifference(got.y, expected.y), 'y').to.be.below(1e-4);
          expect(maxDifference(got.dx, expected.dx), 'dx').to.be.below(1e-4);
          expect(maxDifference(got.dGamma, expected.dGamma), 'dγ').to.be.below(1e-3);
          expect(maxDifference(got.dBeta, expected.dBeta), 'dβ').to.be.below(1e-3);
          // The gradients are not trivially zero, and the moving statistics moved the same way.
          expect(Math.max(...Array.from(expected.dx, Math.abs))).to.be.above(1e-3);
          got.weights.forEach((values, i) => expect(maxDifference(values, expected.weights[i]!), `weight ${i}`).to.be.below(1e-4));
          expect(got.weights[2]![0]).to.be.above(1); // moving mean pulled towards 40
          tf.dispose([x, w]);
          for (const layer of [stock, fused]) layer.weights.forEach((v) => v.dispose());
        } finally {
          await tf.setBackend(saved);
        }
      });
    }
  }

  it('computes inference exactly as the stock layer (moving statistics, not the batch)', () => {
    const [stock, fused] = layerPair([4, 3, 3, 2]);
    const x = tf.randomNormal([4, 3, 3, 2], 1, 2, 'float32', 5);
    const a = (stock.apply(x, { training: false }) as tf.Tensor).dataSync();
    const b = (fused.apply(x, { training: false }) as tf.Tensor).dataSync();
    expect(maxDifference(a, b)).to.equal(0);
  });

  it('saves as a standard BatchNormalization layer, which the stock class rebuilds and predicts the same with', () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [3], units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), batchNormalization({ momentum: 0.7 })],
    });
    const json = model.toJSON(undefined, false) as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    expect(json.config.layers.map((l) => l.class_name)).to.deep.equal(['Dense', 'BatchNormalization']);
    // What a process without this engine (serving, other TF.js programs) builds from that entry.
    const stock = tf.layers.batchNormalization(json.config.layers[1]!.config as Parameters<typeof tf.layers.batchNormalization>[0]);
    expect(stock).to.not.be.instanceOf(TrainingBatchNormalization);
    stock.build([null, 4]);
    stock.setWeights(model.layers[1]!.getWeights());
    const x = tf.randomNormal([5, 4], 0, 1, 'float32', 9);
    expect(maxDifference((stock.apply(x) as tf.Tensor).dataSync(), (model.layers[1]!.apply(x) as tf.Tensor).dataSync())).to.equal(0);
    tf.dispose([x]);
    stock.weights.forEach((v) => v.dispose());
    model.dispose();
  });

  it('is the class models deserialised in a training process get', async () => {
    registerTrainingBatchNorm();
    const model = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [2] })] });
    const loaded = await tf.models.modelFromJSON({ modelTopology: model.toJSON(undefined, false) } as unknown as tf.io.ModelJSON);
    expect(loaded.layers[0]).to.be.instanceOf(TrainingBatchNormalization);
    model.dispose();
    loaded.dispose();
  });

  it('refuses activations that do not split into whole channels', () => {
    expect(() => batchNormForward(new Float32Array(7), 3, new Float32Array(3), new Float32Array(3), 1e-3)).to.throw(RangeError, /7 values do not form rows of 3 channels/);
    const forward = batchNormForward(new Float32Array(6), 3, new Float32Array(3).fill(1), new Float32Array(3), 1e-3);
    expect(() => batchNormBackward(new Float32Array(6), new Float32Array(3), 3, new Float32Array(3), forward)).to.throw(RangeError, /dy has 3 values, x 6/);
  });
});
