import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { defaultPreprocessConfig, inputChannels, maxDifferenceFromTfjs, onnxRuntimeStatus, SyncOnnxSession, tfjsToOnnx } from '@ringcount/model-core';
import { buildReferenceCnn } from '../src/engine/reference-cnn.js';
import { MODEL_SPECS } from '../src/index.js';

/**
 * The serving API runs these models on ONNX Runtime through model-core's converter: the real
 * builders (not copies) must convert to graphs that answer what TF.js answers.
 */
describe('ONNX export of the project models', function () {
  before(async function () {
    const status = onnxRuntimeStatus();
    if (!status.available) {
      console.log(`      (skipped: ${status.reason})`);
      this.skip();
    }
    await tf.setBackend('cpu');
  });

  const builders: [string, () => tf.LayersModel][] = [
    ...Object.values(MODEL_SPECS).map((spec): [string, () => tf.LayersModel] => [`${spec.version} (${spec.architecture}) at 64 px`, () => spec.build(64, 8, 5, inputChannels({ ...defaultPreprocessConfig(64), ...spec.preprocessing }))]),
    ['the reference CNN at 128 px', () => buildReferenceCnn(128)],
  ];
  for (const [name, build] of builders) {
    it(`${name}: ONNX Runtime matches TF.js within 1e-4`, () => {
      const model = build();
      const conversion = tfjsToOnnx(model);
      const session = new SyncOnnxSession(conversion.model);
      try {
        expect(maxDifferenceFromTfjs(model, session, conversion, 3, 21)).to.be.at.most(1e-4);
      } finally {
        session.dispose();
        model.dispose();
      }
    });
  }
});
