const tf = require('@tensorflow/tfjs');
const eng = require('/work/main/data-science/dist/src/engine/index.js');
const ds = require('/work/main/data-science/dist/src/index.js');
(async () => {
  console.log(await eng.setupTrainingBackend());
  for (const [v, size] of JSON.parse(process.argv[2])) {
    const m = ds.modelSpec(v).build(size, 10, 1);
    m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const x = tf.randomUniform([32, size, size, 1]); const y = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10).toFloat();
    await m.trainOnBatch(x, y);
    const t = Date.now(); const n = 5;
    for (let i = 0; i < n; i++) await m.trainOnBatch(x, y);
    const dt = (Date.now() - t) / 1000;
    const t2 = Date.now(); for (let i = 0; i < n; i++) { const p = m.predict(x); await p.data(); p.dispose(); }
    console.log(v, size, 'train img/s', (32 * n / dt).toFixed(1), 'predict img/s', (32 * n / ((Date.now() - t2) / 1000)).toFixed(1), 'tensors', tf.memory().numTensors);
  }
})();
