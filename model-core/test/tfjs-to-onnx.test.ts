import * as tf from '@tensorflow/tfjs';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileSystemIO } from '../src/model-io.js';
import { onnxRuntimeStatus, SyncOnnxSession } from '../src/onnx/runtime.js';
import { maxDifferenceFromTfjs, tfjsToOnnx, UnsupportedLayerError } from '../src/onnx/tfjs-to-onnx.js';

const TOLERANCE = 1e-4;

/** Converts `model`, runs both on random images and returns the largest output difference. */
function conversionError(model: tf.LayersModel, batch = 3): number {
  const conversion = tfjsToOnnx(model);
  const session = new SyncOnnxSession(conversion.model);
  try {
    return maxDifferenceFromTfjs(model, session, conversion, batch, 11);
  } finally {
    session.dispose();
  }
}

// These mirror data-science's architectures layer for layer (model-core cannot import data-science,
// which depends on it); data-science/test/onnx-export.test.ts checks the real builders too.
function baselineCnnV1(size: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [size, size, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 8, activation: 'softmax' }),
    ],
  });
}

function gapCnnV2(size: number): tf.LayersModel {
  const conv = (filters: number, first = false) =>
    tf.layers.conv2d({ ...(first ? { inputShape: [size, size, 1] } : {}), filters, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal' });
  return tf.sequential({
    layers: [
      conv(16, true), tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(32), tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(64), tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(96),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 64, activation: 'relu' }),
      tf.layers.dense({ units: 8, activation: 'softmax' }),
    ],
  });
}

function referenceCnn(size: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [size, size, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 8, activation: 'softmax' }),
    ],
  });
}

/** Randomises BatchNormalization's statistics so the test exercises them (they start at 0 and 1). */
function randomiseBatchNorm(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const variance = (i: number) => layer.weights[i]?.originalName.endsWith('moving_variance') === true;
    layer.setWeights(layer.getWeights().map((w, i) => tf.randomUniform(w.shape, variance(i) ? 0.5 : -0.5, 1.5, 'float32', 3 + i)));
  }
}

describe('tfjsToOnnx', function () {
  before(async () => {
    await tf.setBackend('cpu');
  });

  describe('on ONNX Runtime', function () {
    before(function () {
      const status = onnxRuntimeStatus();
      if (!status.available) {
        console.log(`      (skipped: ${status.reason})`);
        this.skip();
      }
    });

    for (const [name, build, size] of [
      ['v1 baseline-cnn (flatten after conv)', baselineCnnV1, 64],
      ['v2 gap-cnn', gapCnnV2, 64],
      ['the reference CNN at 128 px', referenceCnn, 128],
    ] as const) {
      it(`matches TF.js for ${name}`, () => {
        const model = build(size);
        const error = conversionError(model);
        model.dispose();
        expect(error).to.be.at.most(TOLERANCE);
      });
    }

    it('matches TF.js for odd sizes, strides, valid/same padding, dilation, batch norm and the other layers', () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [37, 29, 2], filters: 5, kernelSize: [3, 5], strides: 2, padding: 'same', activation: 'tanh' }),
          tf.layers.batchNormalization({}),
          tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'valid', dilationRate: 2, useBias: false }),
          tf.layers.reLU({ maxValue: 0.5 }),
          tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
          tf.layers.conv2d({ filters: 4, kernelSize: 2, padding: 'valid', activation: 'sigmoid' }),
          tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same' }),
          tf.layers.dropout({ rate: 0.5 }),
          tf.layers.activation({ activation: 'elu' }),
          tf.layers.flatten(),
          tf.layers.batchNormalization({ center: false }),
          tf.layers.dense({ units: 7, activation: 'relu6' }),
          tf.layers.dense({ units: 4 }),
          tf.layers.softmax(),
        ],
      });
      randomiseBatchNorm(model);
      const error = conversionError(model);
      model.dispose();
      expect(error).to.be.at.most(TOLERANCE);
    });

    it('keeps NHWC order for convolutional output and softmax over channels', () => {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [9, 7, 3], filters: 4, kernelSize: 3, padding: 'same', activation: 'softmax' }),
          tf.layers.globalMaxPooling2d({}),
        ],
      });
      const error = conversionError(model);
      const spatial = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [6, 5, 1], filters: 3, kernelSize: 2, padding: 'valid' })] });
      const spatialConversion = tfjsToOnnx(spatial);
      const spatialError = conversionError(spatial);
      model.dispose();
      spatial.dispose();
      expect(error).to.be.at.most(TOLERANCE);
      expect(spatialConversion.outputShape).to.deep.equal([5, 4, 3]);
      expect(spatialError).to.be.at.most(TOLERANCE);
    });

    it('converts a model loaded back from its saved files (what serving does)', async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'tfjs-to-onnx-'));
      try {
        const built = referenceCnn(32);
        await built.save(fileSystemIO(dir));
        built.dispose();
        const loaded = await tf.loadLayersModel(fileSystemIO(dir));
        const error = conversionError(loaded);
        loaded.dispose();
        expect(error).to.be.at.most(TOLERANCE);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

  });

  it('refuses an unsupported layer type, naming the layer and what is supported', () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3 }),
        tf.layers.depthwiseConv2d({ kernelSize: 3, name: 'my_depthwise' }),
        tf.layers.flatten(),
      ],
    });
    expect(() => tfjsToOnnx(model)).to.throw(UnsupportedLayerError, /layer 'my_depthwise' of type DepthwiseConv2D cannot be converted.*supported types: Conv2D/);
    model.dispose();
  });

  it('refuses unsupported settings and non-sequential graphs', () => {
    const channelsFirst = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [1, 8, 8], filters: 2, kernelSize: 3, dataFormat: 'channelsFirst', name: 'cf' })] });
    expect(() => tfjsToOnnx(channelsFirst)).to.throw(UnsupportedLayerError, /'cf'.*dataFormat 'channelsFirst'/);
    channelsFirst.dispose();

    const badActivation = tf.sequential({ layers: [tf.layers.flatten({ inputShape: [4, 4, 1] }), tf.layers.dense({ units: 2, activation: 'softplus', name: 'sp' })] });
    expect(() => tfjsToOnnx(badActivation)).to.throw(UnsupportedLayerError, /'sp'.*activation 'softplus'/);
    badActivation.dispose();

    const input = tf.input({ shape: [8, 8, 1] });
    const a = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as tf.SymbolicTensor;
    const sum = tf.layers.add({ name: 'merge' }).apply([a, b]) as tf.SymbolicTensor;
    const branched = tf.model({ inputs: input, outputs: sum });
    expect(() => tfjsToOnnx(branched)).to.throw(UnsupportedLayerError, /not fed by the previous layer alone|type Add/);
    branched.dispose();
  });
});
