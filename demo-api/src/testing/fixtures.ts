/**
 * Builders shared by the tests and the benchmark: small ring-count models saved exactly as training
 * saves them (TF.js files + ringcount-model.json), registration in a tracking server through MLflow's
 * REST API (as the training notebook does), and test images.
 */
import * as tf from '@tensorflow/tfjs';
import { defaultPreprocessConfig, fileSystemIO, type ModelMetadata, writeMetadata } from '@ringcount/model-core';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

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
  });
}

interface MlflowFetchOptions {
  method?: string;
  body?: unknown;
  raw?: Buffer;
}

async function mlflow<T>(trackingUri: string, endpoint: string, o: MlflowFetchOptions = {}): Promise<T> {
  const res = await fetch(`${trackingUri}/api/2.0/${endpoint}`, {
    method: o.method ?? (o.body === undefined && o.raw === undefined ? 'GET' : 'POST'),
    headers: o.raw ? { 'content-type': 'application/octet-stream' } : { 'content-type': 'application/json' },
    body: o.raw ? new Uint8Array(o.raw) : (o.body === undefined ? undefined : JSON.stringify(o.body)),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${endpoint}: HTTP ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/**
 * Registers the model directory `dir` as a new version of `modelName`, the way the training notebook
 * does: a run whose artifact directory `model/` holds the files, then a model version tagged
 * `version_label`. Returns the registry version number.
 */
export async function registerModelDir(trackingUri: string, dir: string, o: { modelName?: string; versionLabel?: string; experiment?: string } = {}): Promise<string> {
  const modelName = o.modelName ?? 'ring-counter';
  const experimentName = o.experiment ?? 'demo-api-tests';
  let experimentId: string;
  try {
    experimentId = (await mlflow<{ experiment_id: string }>(trackingUri, 'mlflow/experiments/create', { body: { name: experimentName } })).experiment_id;
  } catch {
    const found = await mlflow<{ experiment: { experiment_id: string } }>(trackingUri, `mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(experimentName)}`);
    experimentId = found.experiment.experiment_id;
  }
  const { run } = await mlflow<{ run: { info: { run_id: string; artifact_uri: string } } }>(trackingUri, 'mlflow/runs/create', {
    body: { experiment_id: experimentId, start_time: Date.now(), run_name: `register-${o.versionLabel ?? 'model'}` },
  });
  const artifactRoot = run.info.artifact_uri.replace(/^mlflow-artifacts:(\/\/[^/]*)?\/?/, '').replace(/\/+$/, '');
  for (const name of await readdir(dir)) {
    if (name.startsWith('.')) continue;
    await mlflow(trackingUri, `mlflow-artifacts/artifacts/${artifactRoot}/model/${encodeURIComponent(name)}`, { method: 'PUT', raw: await readFile(path.join(dir, name)) });
  }
  await mlflow(trackingUri, 'mlflow/runs/update', { body: { run_id: run.info.run_id, status: 'FINISHED', end_time: Date.now() } });
  try {
    await mlflow(trackingUri, 'mlflow/registered-models/create', { body: { name: modelName } });
  } catch (err) {
    if (!/RESOURCE_ALREADY_EXISTS/.test(String(err))) throw err;
  }
  const tags = o.versionLabel ? [{ key: 'version_label', value: o.versionLabel }] : [];
  const { model_version } = await mlflow<{ model_version: { version: string } }>(trackingUri, 'mlflow/model-versions/create', {
    body: { name: modelName, source: `${run.info.artifact_uri.replace(/\/+$/, '')}/model`, run_id: run.info.run_id, tags },
  });
  return String(model_version.version);
}

export async function setAlias(trackingUri: string, version: string, alias = 'production', modelName = 'ring-counter'): Promise<void> {
  await mlflow(trackingUri, 'mlflow/registered-models/alias', { body: { name: modelName, alias, version } });
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
