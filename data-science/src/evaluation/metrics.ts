import * as tf from '@tensorflow/tfjs';
import { inputChannels } from '@ringcount/model-core';
import type { Sample } from '../dataset/csv.js';
import type { ImageSource } from '../dataset/image-source.js';
import { streamBatches } from '../dataset/batches.js';
import { crossEntropy } from '../training/loss.js';

/** `matrix[t][p]` counts images of true class t predicted as class p. */
export interface ConfusionMatrix {
  labels: number[];
  matrix: number[][];
}

export interface EvaluationResult {
  count: number;
  /** Exact-match accuracy (predicted ring count = true ring count). */
  accuracy: number;
  /** Fraction predicted within ±1 ring. */
  withinOne: number;
  /** Mean absolute error in rings. */
  meanAbsoluteError: number;
  /** Mean cross-entropy. */
  loss: number;
  confusion: ConfusionMatrix;
}

export function emptyConfusion(labels: number[]): ConfusionMatrix {
  return { labels, matrix: labels.map(() => labels.map(() => 0)) };
}

/** Metrics from a filled confusion matrix. */
export function summarizeConfusion(confusion: ConfusionMatrix): Omit<EvaluationResult, 'loss' | 'confusion'> {
  let count = 0;
  let exact = 0;
  let near = 0;
  let absErr = 0;
  confusion.matrix.forEach((row, t) =>
    row.forEach((n, p) => {
      const diff = Math.abs((confusion.labels[t] as number) - (confusion.labels[p] as number));
      count += n;
      if (diff === 0) exact += n;
      if (diff <= 1) near += n;
      absErr += n * diff;
    }),
  );
  const div = (a: number) => (count === 0 ? 0 : a / count);
  return { count, accuracy: div(exact), withinOne: div(near), meanAbsoluteError: div(absErr) };
}

/** Runs the model over `samples` (streamed, no augmentation) and scores it. */
export async function evaluateModel(
  model: tf.LayersModel,
  samples: Sample[],
  source: ImageSource,
  labels: number[],
  batchSize = 64,
): Promise<EvaluationResult> {
  const confusion = emptyConfusion(labels);
  const size = source.config.size;
  let lossSum = 0;
  for await (const batch of streamBatches(samples, source, { batchSize, labels })) {
    const [predicted, losses] = tf.tidy(() => {
      const x = tf.tensor4d(batch.xs, [batch.size, size, size, inputChannels(source.config)]);
      const probs = model.predict(x) as tf.Tensor2D;
      const y = tf.oneHot(tf.tensor1d(batch.classes, 'int32'), labels.length).toFloat();
      const ce = crossEntropy(y, probs);
      return [probs.argMax(-1), ce.sum()];
    });
    const pred = (await predicted.data()) as Int32Array;
    lossSum += (await losses.data())[0] as number;
    predicted.dispose();
    losses.dispose();
    batch.classes.forEach((t, i) => {
      const row = confusion.matrix[t] as number[];
      const p = pred[i] as number;
      row[p] = (row[p] ?? 0) + 1;
    });
  }
  const summary = summarizeConfusion(confusion);
  return { ...summary, loss: summary.count === 0 ? 0 : lossSum / summary.count, confusion };
}
