import * as tf from '@tensorflow/tfjs';

export type ModelVersion = 'v1' | 'v2';

export interface ModelSpec {
  version: ModelVersion;
  architecture: string;
  /** Why this model exists, for the notebook and the run's description. */
  description: string;
  build(imageSize: number, numClasses: number, seed: number): tf.LayersModel;
  /** Train with depiction augmentation. */
  augment: boolean;
  /** Learning-rate schedule: rate for epoch `e` of `epochs`. */
  learningRate(epoch: number, epochs: number): number;
  /** Stop after this many epochs without validation improvement (0 = never). */
  earlyStoppingPatience: number;
}

/**
 * v1: a small baseline — two conv/pool stages, flatten, dense. Position-dependent (flatten) and
 * trained without augmentation at a constant rate.
 */
export const baselineCnn: ModelSpec = {
  version: 'v1',
  architecture: 'baseline-cnn',
  description: 'two conv+maxpool stages, flatten, dense(64); no augmentation; constant learning rate',
  augment: false,
  learningRate: () => 1e-3,
  earlyStoppingPatience: 0,
  build(imageSize, numClasses, seed) {
    const init = (i: number) => tf.initializers.glorotUniform({ seed: seed + i });
    return tf.sequential({
      name: 'baseline_cnn',
      layers: [
        tf.layers.conv2d({ inputShape: [imageSize, imageSize, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(3) }),
        tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: init(4) }),
      ],
    });
  },
};

/**
 * v2: conv blocks with batch norm (stable, faster training), more filters deeper, and global average
 * pooling — counting rings is "how much ring-ness is in the picture", which GAP expresses directly
 * and which does not depend on where the rings are. Trained with rotation/flip/scale/shift/stroke
 * augmentation, cosine learning-rate decay and early stopping on validation accuracy.
 */
export const batchNormGapCnn: ModelSpec = {
  version: 'v2',
  architecture: 'bn-gap-cnn',
  description: 'conv blocks 16-32-64-96 with batch norm, global average pooling, dropout; augmentation; cosine LR; early stopping',
  augment: true,
  learningRate: (epoch, epochs) => 0.00005 + 0.5 * (3e-3 - 0.00005) * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs))),
  earlyStoppingPatience: 4,
  build(imageSize, numClasses, seed) {
    const layers: tf.layers.Layer[] = [];
    let i = 0;
    const convBnRelu = (filters: number, first = false) => {
      layers.push(
        tf.layers.conv2d({
          ...(first ? { inputShape: [imageSize, imageSize, 1] } : {}),
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          kernelInitializer: tf.initializers.heNormal({ seed: seed + ++i }),
        }),
      );
      layers.push(tf.layers.batchNormalization({ momentum: 0.9 }));
      layers.push(tf.layers.activation({ activation: 'relu' }));
    };
    convBnRelu(16, true);
    layers.push(tf.layers.maxPooling2d({ poolSize: 2 }));
    convBnRelu(32);
    convBnRelu(32);
    layers.push(tf.layers.maxPooling2d({ poolSize: 2 }));
    convBnRelu(64);
    convBnRelu(64);
    layers.push(tf.layers.maxPooling2d({ poolSize: 2 }));
    convBnRelu(96);
    layers.push(tf.layers.globalAveragePooling2d({}));
    layers.push(tf.layers.dropout({ rate: 0.2, seed }));
    layers.push(tf.layers.dense({ units: numClasses, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }) }));
    return tf.sequential({ name: 'bn_gap_cnn', layers });
  },
};

export const MODEL_SPECS: Record<ModelVersion, ModelSpec> = { v1: baselineCnn, v2: batchNormGapCnn };

export function modelSpec(version: string): ModelSpec {
  if (version !== 'v1' && version !== 'v2') throw new Error(`unknown model version '${version}': use v1 (baseline) or v2 (improved)`);
  return MODEL_SPECS[version];
}
