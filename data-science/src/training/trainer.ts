import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, writeFile, cp, rename, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { defaultPreprocessConfig, fileSystemIO, inputChannels, writeMetadata, type BackendName, type ModelMetadata } from '@ringcount/model-core';
import { loadDataset, type Dataset } from '../dataset/load.js';
import { sharedImageSource } from '../dataset/image-source.js';
import { streamBatches } from '../dataset/batches.js';
import { depictionAugmentation } from '../dataset/augment.js';
import { modelSpec, type ModelVersion } from '../models/architectures.js';
import { evaluateModel, type EvaluationResult } from '../evaluation/metrics.js';
import { trainingCurvesPng, type TrainingHistory } from '../plots/curves.js';
import { confusionMatrixPng } from '../plots/confusion.js';
import type { RunHandle } from '@ringcount/tracking';
import { TrainingProgress } from './progress.js';
import { setupBackendForTraining } from './backend.js';
import { crossEntropy } from './loss.js';
import { DataParallelTrainer, trainWorkersSetting } from '../engine/data-parallel.js';

export const REGISTERED_MODEL = 'ring-counter';

export interface TrainOptions {
  version: ModelVersion;
  /** Folder written by the ingest CLI (`compound_rings.csv`, `images/`, `dataset.json`). */
  dataDir: string;
  epochs: number;
  imageSize: number;
  batchSize?: number;
  /** Use at most this many images (stratified subset); 0 = all. */
  maxImages?: number;
  seed?: number;
  /** Peak learning rate; defaults to the model's schedule. */
  learningRate?: number;
  /** Where to export the model as `<exportDir>/<version>`; omit to skip the export. */
  exportDir?: string;
  /** Register the model as a new version of `ring-counter` (default true). */
  register?: boolean;
  /** Force a backend; default: the engine's / model-core's choice. */
  backend?: BackendName;
  /** Decoded images kept in memory (bounded LRU); default ~1 GB worth. */
  cacheEntries?: number;
  log?: (line: string) => void;
}

export interface TrainResult {
  version: ModelVersion;
  runId: string;
  backend: string;
  history: TrainingHistory;
  test: EvaluationResult;
  /** Epochs actually run (early stopping may end sooner). */
  epochsRun: number;
  bestEpoch: number;
  trainSeconds: number;
  totalSeconds: number;
  trainImagesPerSecond: number;
  registeredVersion?: string;
  exportedTo?: string;
  metadata: ModelMetadata;
  curvesPng: Buffer;
  confusionPng: Buffer;
  dataset: { size: number; train: number; validation: number; test: number; digest: string; generatorSeed?: number };
}

export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}

/**
 * Trains one model version end to end and records everything in the tracking run: params, per-epoch
 * metrics, test metrics, plots, the model directory, registration and export. On any failure
 * (including NaN loss) the run is marked FAILED and the error rethrown.
 */
export async function trainModel(opts: TrainOptions, run: RunHandle): Promise<TrainResult> {
  const started = Date.now();
  const log = opts.log ?? console.log;
  try {
    return await trainTracked(opts, run, log, started);
  } catch (err) {
    log(`run ${run.runId} FAILED: ${(err as Error).message}`);
    await run.setTags({ failure_reason: (err as Error).message.slice(0, 500) }).catch(() => undefined);
    await run.end('FAILED').catch((endErr: unknown) => log(`could not mark run ${run.runId} FAILED: ${(endErr as Error).message}`));
    throw err;
  }
}

async function trainTracked(opts: TrainOptions, run: RunHandle, log: (line: string) => void, started: number): Promise<TrainResult> {
  const spec = modelSpec(opts.version);
  const seed = opts.seed ?? 42;
  const batchSize = opts.batchSize ?? 32;
  if (!(opts.epochs >= 1)) throw new RangeError(`epochs must be ≥ 1, got ${opts.epochs}`);
  if (!(opts.imageSize >= 16 && opts.imageSize <= 512)) throw new RangeError(`imageSize must be within 16..512, got ${opts.imageSize}`);

  // Data-parallel replicas (RINGCOUNT_TRAIN_WORKERS; default 2 on ≥ 2 CPUs): each takes a core, so
  // ONNX Runtime gets one thread each. tfjs-node already uses every core on its own.
  const askedReplicas = trainWorkersSetting();
  const backend = await setupBackendForTraining(opts.backend, askedReplicas > 1 ? { onnxRuntimeThreads: 1 } : {});
  const replicas = backend === 'tensorflow' ? 1 : askedReplicas;
  const data: Dataset = await loadDataset(opts.dataDir, { maxImages: opts.maxImages, seed });
  const { train, validation, test } = data.split;
  const preprocessing = { ...defaultPreprocessConfig(opts.imageSize), ...spec.preprocessing };
  const channels = inputChannels(preprocessing);
  log(
    `${opts.version} (${spec.architecture}) on ${backend}: ${data.size} images (train ${train.length}, val ${validation.length}, test ${test.length}), ` +
      `labels 0..${data.labels.length - 1}, ${opts.imageSize}px, data ${data.provenance.digest.slice(0, 12)}, ` +
      (replicas > 1 ? `training data-parallel on ${replicas} replicas (RINGCOUNT_TRAIN_WORKERS)` : 'training on one thread'),
  );

  await run.setTags({
    backend,
    version_label: opts.version,
    architecture: spec.architecture,
    data_digest: data.provenance.digest,
    ...(data.provenance.generatorSeed !== undefined ? { generator_seed: String(data.provenance.generatorSeed) } : {}),
    'mlflow.note.content': `${opts.version}: ${spec.description}`,
  });
  await run.logParams(definedOnly({
    version: opts.version,
    architecture: spec.architecture,
    epochs: opts.epochs,
    image_size: opts.imageSize,
    batch_size: batchSize,
    max_images: opts.maxImages ?? 0,
    seed,
    learning_rate: opts.learningRate ?? spec.learningRate(0, opts.epochs),
    lr_schedule: spec.version === 'v2' ? 'warmup+cosine' : 'constant',
    augmentation: spec.augment ? JSON.stringify(depictionAugmentation()) : 'none',
    early_stopping_patience: spec.earlyStoppingPatience,
    n_images: data.size,
    n_train: train.length,
    n_val: validation.length,
    n_test: test.length,
    n_classes: data.labels.length,
    data_digest: data.provenance.digest,
    data_digest_source: data.provenance.source,
    generator_seed: data.provenance.generatorSeed,
    backend,
    train_replicas: replicas,
    preprocessing: JSON.stringify(preprocessing),
  }));

  // Default cache: ~1 GB of decoded images whatever the image size — the demo's 6,000 images up to
  // 128 px. An LRU smaller than an epoch's images evicts each one before its next use, and every
  // epoch then decodes the whole set again on the training thread.
  const source = sharedImageSource(preprocessing, opts.cacheEntries ?? Math.floor(1e9 / (4 * opts.imageSize * opts.imageSize)));
  const model = spec.build(opts.imageSize, data.labels.length, seed, channels);
  const optimizer = tf.train.adam(opts.learningRate ?? spec.learningRate(0, opts.epochs));
  model.compile({ optimizer, loss: crossEntropy, metrics: ['accuracy'] });
  const progress = new TrainingProgress(log);
  const history: TrainingHistory = { trainLoss: [], trainAccuracy: [], valLoss: [], valAccuracy: [] };
  const batches = Math.ceil(train.length / batchSize);
  const baseRate = opts.learningRate ?? spec.learningRate(0, opts.epochs);
  let best: { epoch: number; accuracy: number; loss: number; weights: tf.Tensor[] } | undefined;
  let trainMs = 0;
  let trainImages = 0;
  let epoch = 0;
  let parallel: DataParallelTrainer | undefined;

  try {
    // Same optimizer as the compiled model's (Adam); the trained weights are synced back into
    // `model` after every epoch, before it is evaluated.
    if (replicas > 1) {
      parallel = await DataParallelTrainer.fromModel(model, { replicas, optimizer: { learningRate: baseRate } }).catch((err: unknown) => {
        log(`data-parallel training unavailable (${(err as Error).message}); training on one thread`);
        return undefined;
      });
    }
    for (epoch = 1; epoch <= opts.epochs; epoch++) {
      const rate = (baseRate / spec.learningRate(0, opts.epochs)) * spec.learningRate(epoch - 1, opts.epochs);
      setLearningRate(optimizer, rate);
      parallel?.setLearningRate(rate);
      progress.startEpoch(epoch, opts.epochs, batches);
      const epochStart = Date.now();
      let lossSum = 0;
      let correctSum = 0;
      let seen = 0;
      let b = 0;
      for await (const batch of streamBatches(train, source, {
        batchSize,
        labels: data.labels,
        shuffleSeed: seed * 1000 + epoch,
        augment: spec.augment ? depictionAugmentation() : undefined,
        augmentSeed: seed * 7919 + epoch,
      })) {
        b++;
        const [loss, acc] = parallel
          ? await parallel.trainOnBatch(batch.xs, batch.classes, data.labels.length).then((r): [number, number] => [r.loss, r.accuracy])
          : await trainOnThisThread(model, batch, opts.imageSize, data.labels.length);
        if (!Number.isFinite(loss)) {
          throw new TrainingDivergedError(
            `training diverged: loss is ${loss} at epoch ${epoch}, batch ${b}/${batches} (learning rate ${rate}). ` +
              'The run is marked FAILED; lower the learning rate or check the input images.',
          );
        }
        lossSum += loss * batch.size;
        correctSum += acc * batch.size;
        seen += batch.size;
        const elapsed = (Date.now() - epochStart) / 1000;
        progress.batch(epoch, b, batches, lossSum / seen, correctSum / seen, seen / Math.max(elapsed, 1e-3));
      }
      parallel?.syncTo(model);
      const epochTrainMs = Date.now() - epochStart;
      trainMs += epochTrainMs;
      trainImages += seen;
      const val = await evaluateModel(model, validation, source, data.labels, 64);
      history.trainLoss.push(lossSum / seen);
      history.trainAccuracy.push(correctSum / seen);
      history.valLoss.push(val.loss);
      history.valAccuracy.push(val.accuracy);
      const imgPerSec = seen / (epochTrainMs / 1000);
      await run.logMetrics(
        {
          train_loss: lossSum / seen,
          train_accuracy: correctSum / seen,
          val_loss: val.loss,
          val_accuracy: val.accuracy,
          val_within_one: val.withinOne,
          learning_rate: rate,
          train_img_per_s: imgPerSec,
          epoch_seconds: (Date.now() - epochStart) / 1000,
        },
        epoch,
      );
      progress.endEpoch(
        `epoch ${epoch}/${opts.epochs}: train loss ${(lossSum / seen).toFixed(4)} acc ${(correctSum / seen).toFixed(3)} | ` +
          `val loss ${val.loss.toFixed(4)} acc ${val.accuracy.toFixed(3)} | lr ${rate.toExponential(2)} | ${imgPerSec.toFixed(0)} img/s, ` +
          `${((Date.now() - epochStart) / 1000).toFixed(1)} s`,
      );
      if (!best || val.accuracy > best.accuracy || (val.accuracy === best.accuracy && val.loss < best.loss)) {
        best?.weights.forEach((w) => w.dispose());
        best = { epoch, accuracy: val.accuracy, loss: val.loss, weights: model.getWeights().map((w) => w.clone()) };
      } else if (spec.earlyStoppingPatience > 0 && epoch - best.epoch >= spec.earlyStoppingPatience) {
        log(`early stopping: no validation improvement for ${spec.earlyStoppingPatience} epochs (best epoch ${best.epoch})`);
        break;
      }
    }
    const epochsRun = Math.min(epoch, opts.epochs);
    // Keep the weights of the best validation epoch (v1 has no early stopping, but the rule is the same).
    if (best && best.epoch !== epochsRun) model.setWeights(best.weights);
    const bestEpoch = best?.epoch ?? epochsRun;

    const testResult = await evaluateModel(model, test, source, data.labels, 64);
    const testMetrics = {
      test_accuracy: testResult.accuracy,
      test_within_one: testResult.withinOne,
      test_mae: testResult.meanAbsoluteError,
      test_loss: testResult.loss,
      best_epoch: bestEpoch,
      train_seconds: trainMs / 1000,
      train_img_per_s_mean: trainImages / (trainMs / 1000),
    };
    await run.logMetrics(testMetrics, epochsRun);
    log(
      `test: accuracy ${testResult.accuracy.toFixed(3)}, within ±1 ${testResult.withinOne.toFixed(3)}, MAE ${testResult.meanAbsoluteError.toFixed(3)} ` +
        `on ${testResult.count} images (best epoch ${bestEpoch})`,
    );

    const work = await mkdtemp(path.join(os.tmpdir(), `ringcount-${opts.version}-`));
    try {
      const curvesPng = await trainingCurvesPng(history, `${opts.version} (${spec.architecture})`);
      const confusionPng = await confusionMatrixPng(
        testResult.confusion,
        `${opts.version} test confusion (accuracy ${(testResult.accuracy * 100).toFixed(1)}%)`,
      );
      await mkdir(path.join(work, 'plots'));
      await writeFile(path.join(work, 'plots', 'training_curves.png'), curvesPng);
      await writeFile(path.join(work, 'plots', 'confusion_matrix.png'), confusionPng);
      await writeFile(path.join(work, 'plots', 'confusion_matrix.json'), JSON.stringify(testResult.confusion));
      await writeFile(path.join(work, 'plots', 'history.json'), JSON.stringify(history));
      for (const f of ['training_curves.png', 'confusion_matrix.png', 'confusion_matrix.json', 'history.json']) {
        await run.logArtifact(path.join(work, 'plots', f), 'plots');
      }

      const modelDir = path.join(work, 'model');
      await model.save(fileSystemIO(modelDir));
      const metadata = await writeMetadata(modelDir, {
        name: REGISTERED_MODEL,
        version: opts.version,
        createdAt: new Date().toISOString(),
        inputShape: [opts.imageSize, opts.imageSize, channels],
        preprocessing,
        labels: data.labels,
        architecture: spec.architecture,
        tfjsVersion: tf.version.tfjs,
        backend,
        dataDigest: data.provenance.digest,
        ...(data.provenance.generatorSeed !== undefined ? { generatorSeed: data.provenance.generatorSeed } : {}),
        runId: run.runId,
        metrics: { test_accuracy: testResult.accuracy, test_within_one: testResult.withinOne, test_mae: testResult.meanAbsoluteError },
      });
      await run.logArtifacts(modelDir, 'model');

      let registeredVersion: string | undefined;
      if (opts.register !== false) {
        registeredVersion = (await run.client.registerModel(REGISTERED_MODEL, run, 'model', { version_label: opts.version })).version;
        log(`registered ${REGISTERED_MODEL} version ${registeredVersion} (version_label=${opts.version})`);
      }
      let exportedTo: string | undefined;
      if (opts.exportDir) {
        exportedTo = await exportModelDir(modelDir, path.join(opts.exportDir, opts.version));
        log(`exported to ${exportedTo}`);
      }
      await run.end('FINISHED');
      return {
        version: opts.version,
        runId: run.runId,
        backend,
        history,
        test: testResult,
        epochsRun,
        bestEpoch,
        trainSeconds: trainMs / 1000,
        totalSeconds: (Date.now() - started) / 1000,
        trainImagesPerSecond: trainImages / (trainMs / 1000),
        registeredVersion,
        exportedTo,
        metadata,
        curvesPng,
        confusionPng,
        dataset: {
          size: data.size,
          train: train.length,
          validation: validation.length,
          test: test.length,
          digest: data.provenance.digest,
          generatorSeed: data.provenance.generatorSeed,
        },
      };
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  } finally {
    best?.weights.forEach((w) => w.dispose());
    model.dispose();
    await parallel?.dispose();
  }
}

/** One `model.trainOnBatch` step (the single-threaded path): [loss, accuracy]. */
async function trainOnThisThread(
  model: tf.LayersModel, batch: { xs: Float32Array; classes: Int32Array; size: number }, imageSize: number, numClasses: number,
): Promise<[number, number]> {
  const channels = batch.xs.length / (batch.size * imageSize * imageSize);
  const x = tf.tensor4d(batch.xs, [batch.size, imageSize, imageSize, channels]);
  const y = tf.tidy(() => tf.oneHot(tf.tensor1d(batch.classes, 'int32'), numClasses).toFloat());
  try {
    const out = await model.trainOnBatch(x, y);
    return Array.isArray(out) ? (out as [number, number]) : [out, NaN];
  } finally {
    x.dispose();
    y.dispose();
  }
}

/** Replaces `target` with a copy of `modelDir` (copied beside it, then renamed into place). */
async function exportModelDir(modelDir: string, target: string): Promise<string> {
  const abs = path.resolve(target);
  await mkdir(path.dirname(abs), { recursive: true });
  const staging = `${abs}.tmp-${process.pid}`;
  const old = `${abs}.old-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await cp(modelDir, staging, { recursive: true });
  await rm(old, { recursive: true, force: true });
  await rename(abs, old).catch(() => undefined);
  await rename(staging, abs);
  await rm(old, { recursive: true, force: true });
  return abs;
}

function definedOnly(record: Record<string, string | number | boolean | undefined>): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Record<string, string | number | boolean>;
}

function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  // tfjs optimizers read `learningRate` on every step; it is a protected field in the typings.
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}
