/**
 * Builders shared by the tests and the benchmark: small ring-count models saved exactly as training
 * saves them (TF.js files + ringcount-model.json), registration in a tracking server through MLflow's
 * REST API (as the training notebook does), and test images.
 */
import * as tf from '@tensorflow/tfjs';
import { defaultPreprocessConfig, fileSystemIO, type ModelMetadata, writeMetadata } from '@ringcount/model-core';
import { TrackingClient } from '@ringcount/tracking';
import sharp from 'sharp';
import { VERSION_LABEL_TAG } from '../registry.js';

export const RING_LABELS = [1, 2, 3, 4, 5, 6, 7, 8];

export interface FixtureModelOptions {
  /** Square input side. */
  size: number;
  versionLabel: string;
  /**
   * When set, the model answers this ring count for every image (its dense layer is a constant), so a
   * test can tell from a prediction which version produced it.
   */
  constantRings?: number;
  /** `reference-cnn`: the anchor's architecture (conv16-pool-conv32-pool-conv64-GAP-dense8). */
  architecture?: 'tiny-cnn' | 'reference-cnn';
  /** The training run recorded in the metadata (training writes its tracking run id). */
  runId?: string;
}

/** Builds and saves a model with random weights plus its metadata into `dir`. */
export async function saveFixtureModel(dir: string, o: FixtureModelOptions): Promise<ModelMetadata> {
  const architecture = o.architecture ?? 'tiny-cnn';
  const inputShape: [number, number, number] = [o.size, o.size, 1];
  const model = tf.sequential();
  if (architecture === 'reference-cnn') {
    model.add(tf.layers.conv2d({ inputShape, filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
  } else {
    model.add(tf.layers.conv2d({ inputShape, filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }));
  }
  model.add(tf.layers.globalAveragePooling2d({}));
  const dense = tf.layers.dense({ units: RING_LABELS.length, activation: 'softmax' });
  model.add(dense);
  if (o.constantRings !== undefined) {
    const index = RING_LABELS.indexOf(o.constantRings);
    if (index < 0) throw new Error(`constantRings must be one of ${RING_LABELS.join(', ')}`);
    const [kernel, bias] = dense.getWeights();
    const oneHot = RING_LABELS.map((_, i) => (i === index ? 10 : 0));
    dense.setWeights([tf.zerosLike(kernel as tf.Tensor), tf.tensor1d(oneHot)]);
    void bias;
  }
  await model.save(fileSystemIO(dir));
  model.dispose();
  return writeMetadata(dir, {
    name: 'ring-counter',
    version: o.versionLabel,
    createdAt: new Date().toISOString(),
    inputShape,
    preprocessing: defaultPreprocessConfig(o.size),
    labels: RING_LABELS,
    architecture,
    tfjsVersion: tf.version.tfjs,
    backend: tf.getBackend(),
    dataDigest: 'fixture: random weights, no training data',
    ...(o.runId === undefined ? {} : { runId: o.runId }),
  });
}

/**
 * Registers the model directory `dir` as a new version of `modelName`, the way the training notebook
 * does: a run whose artifact directory `model/` holds the files, then a model version tagged
 * `version_label`. Returns the registry version number.
 */
export async function registerModelDir(trackingUri: string, dir: string, o: { modelName?: string; versionLabel?: string; experiment?: string } = {}): Promise<string> {
  const client = new TrackingClient({ trackingUri });
  const run = await client.startRun(o.experiment ?? 'demo-api-tests', { runName: `register-${o.versionLabel ?? 'model'}` });
  await run.logArtifacts(dir, 'model');
  await run.end();
  const tags: Record<string, string> = o.versionLabel ? { [VERSION_LABEL_TAG]: o.versionLabel } : {};
  const mv = await client.registerModel(o.modelName ?? 'ring-counter', { runId: run.runId, artifactUri: run.artifactUri }, 'model', tags);
  return mv.version;
}

export async function setAlias(trackingUri: string, version: string, alias = 'production', modelName = 'ring-counter'): Promise<void> {
  await new TrackingClient({ trackingUri }).setAlias(modelName, alias, version);
}

/** A 300×300 depiction-like PNG: `rings` circles on white, like the generator's drawings. */
export async function ringImage(rings = 2, format: 'png' | 'jpeg' | 'webp' = 'png', size = 300): Promise<Buffer> {
  const circles = Array.from({ length: rings }, (_, i) => {
    const cx = Math.round(((i + 1) * size) / (rings + 1));
    return `<circle cx="${cx}" cy="${size / 2}" r="${Math.round(size / (3 * (rings + 1)))}" stroke="black" stroke-width="4" fill="none"/>`;
  }).join('');
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}"><rect width="100%" height="100%" fill="white"/>${circles}</svg>`);
  return sharp(svg)[format]().toBuffer();
}
