const tf = require('@tensorflow/tfjs');
const eng = require('/work/main/data-science/dist/src/engine/index.js');
function build(size, stages, bn) {
  const layers = [];
  let first = true;
  for (const stage of stages) {
    for (const f of stage) {
      layers.push(tf.layers.conv2d({ ...(first ? { inputShape: [size, size, 1] } : {}), filters: f, kernelSize: 3, padding: 'same', useBias: !bn, activation: bn ? 'linear' : 'relu' }));
      if (bn) { layers.push(tf.layers.batchNormalization()); layers.push(tf.layers.activation({ activation: 'relu' })); }
      first = false;
    }
    layers.push(tf.layers.maxPooling2d({ poolSize: 2 }));
  }
  layers.pop();
  layers.push(tf.layers.globalAveragePooling2d({}));
  layers.push(tf.layers.dense({ units: 10, activation: 'softmax' }));
  return tf.sequential({ layers });
}
(async () => {
  await eng.setupTrainingBackend();
  for (const [name, size, stages, bn] of [
    ['ref-like', 64, [[16], [32], [64]], false],
    ['4stage', 64, [[16], [32], [64], [64]], false],
    ['deep', 64, [[16], [32, 32], [64, 64], [96]], false],
    ['4stage96', 96, [[16], [32], [64], [64]], false],
  ]) {
    const m = build(size, stages, bn);
    m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const x = tf.randomUniform([32, size, size, 1]); const y = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10).toFloat();
    await m.trainOnBatch(x, y);
    const t = Date.now(); const n = 4;
    for (let i = 0; i < n; i++) await m.trainOnBatch(x, y);
    console.log(name, size, 'train img/s', (32 * n / ((Date.now() - t) / 1000)).toFixed(1));
  }
})();
