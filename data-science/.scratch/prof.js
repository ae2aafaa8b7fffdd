const tf = require('@tensorflow/tfjs');
const eng = require('/work/main/data-science/dist/src/engine/index.js');
const ds = require('/work/main/data-science/dist/src/index.js');
(async () => {
  await eng.setupTrainingBackend();
  const size = 64;
  const m = ds.modelSpec('v2').build(size, 10, 1);
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const x = tf.randomUniform([32, size, size, 1]); const y = tf.oneHot(tf.randomUniform([32], 0, 10, 'int32'), 10).toFloat();
  await m.trainOnBatch(x, y);
  const info = await tf.profile(async () => { await m.trainOnBatch(x, y); });
  const agg = {};
  for (const k of info.kernels) { agg[k.name] = (agg[k.name] || 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0); }
  console.log(Object.entries(agg).sort((a, b) => b[1] - a[1]).slice(0, 15));
})();
