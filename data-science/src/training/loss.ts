import * as tf from '@tensorflow/tfjs';

/**
 * Categorical cross-entropy on softmax outputs, per sample. Unlike TF.js's built-in loss it does not
 * clip probabilities (clipping turns NaN into a finite number on some backends, hiding a diverged
 * run); adding ε instead keeps log finite for a zero probability while NaN still propagates, so the
 * trainer's NaN check sees it.
 */
export function crossEntropy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.neg(tf.sum(tf.mul(yTrue, tf.log(tf.add(yPred, 1e-7))), -1)));
}
