import * as tf from '@tensorflow/tfjs';

/**
 * The reference ring-count CNN of `shared/anchors/README.md` (mirrors `torch_cnn.py` layer for
 * layer), so benchmark ratios compare engines, not models: conv3×3(16)+ReLU → maxpool2 →
 * conv3×3(32)+ReLU → maxpool2 → conv3×3(64)+ReLU → global average pool → dense(8).
 * The last layer has a softmax because TF.js layers' cross-entropy takes probabilities
 * (PyTorch's CrossEntropyLoss applies log-softmax to logits: the same computation).
 */
export function buildReferenceCnn(size: number, classes = 8): tf.LayersModel {
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [size, size, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dense({ units: classes, activation: 'softmax' }));
  model.compile({ optimizer: tf.train.adam(), loss: 'categoricalCrossentropy' });
  return model;
}
