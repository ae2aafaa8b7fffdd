import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { defaultPreprocessConfig, inputChannels } from '@ringcount/model-core';
import { MODEL_SPECS, modelSpec } from '../src/index.js';

describe('models', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const spec of Object.values(MODEL_SPECS)) {
    const channels = inputChannels({ ...defaultPreprocessConfig(32), ...spec.preprocessing });
    it(`${spec.version} (${spec.architecture}) maps [n, s, s, ${channels}] images to [n, classes] probabilities`, () => {
      const model = spec.build(32, 7, 1, channels);
      try {
        expect(model.inputs[0]?.shape).to.deep.equal([null, 32, 32, channels]);
        const probs = tf.tidy(() => (model.predict(tf.randomUniform([3, 32, 32, channels], 0, 1, 'float32', 1)) as tf.Tensor).arraySync() as number[][]);
        expect(probs).to.have.length(3);
        for (const row of probs) {
          expect(row).to.have.length(7);
          expect(row.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-4);
        }
      } finally {
        model.dispose();
      }
    });

    it(`${spec.version} builds the same initial weights from the same seed`, () => {
      const a = spec.build(32, 5, 3);
      const b = spec.build(32, 5, 3);
      try {
        const wa = a.getWeights()[0]?.dataSync();
        const wb = b.getWeights()[0]?.dataSync();
        expect(Array.from(wa ?? [])).to.deep.equal(Array.from(wb ?? []));
      } finally {
        a.dispose();
        b.dispose();
      }
    });
  }

  it('v2 adds the ring-centre channel to its input; v1 sees ink only', () => {
    expect(MODEL_SPECS.v2.preprocessing?.ringCentres).to.equal(true);
    expect(MODEL_SPECS.v1.preprocessing?.ringCentres).to.not.equal(true);
  });

  it('v2 has a decaying learning-rate schedule and early stopping; v1 has neither', () => {
    const v2 = modelSpec('v2');
    expect(v2.learningRate(0, 10)).to.be.greaterThan(v2.learningRate(9, 10));
    expect(v2.earlyStoppingPatience).to.be.greaterThan(0);
    expect(v2.augment).to.equal(true);
    const v1 = modelSpec('v1');
    expect(v1.learningRate(0, 10)).to.equal(v1.learningRate(9, 10));
    expect(v1.augment).to.equal(false);
  });

  it('names the valid versions for an unknown one', () => {
    expect(() => modelSpec('v3')).to.throw(/unknown model version 'v3': use v1 \(baseline\) or v2/);
  });
});
