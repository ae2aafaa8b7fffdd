import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { setupTrainingBackend } from '../src/engine/index.js';
import { DataParallelTrainer, describeModel, shardSizes, trainWorkersSetting } from '../src/engine/data-parallel.js';
import { crossEntropy } from '../src/training/loss.js';

/**
 * DataParallelTrainer against `model.trainOnBatch` on the full batch: the size-weighted mean of
 * shard gradients is the full batch's gradient, so both must reach the same weights.
 */

const SIZE = 16;
const CLASSES = 3;
const PIXELS = SIZE * SIZE;

function tinyCnn(seed: number): tf.LayersModel {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [SIZE, SIZE, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
    ],
  });
}

/** Deterministic pseudo-random batch. */
function batch(n: number, seed: number): { xs: Float32Array; classes: Int32Array } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const xs = Float32Array.from({ length: n * PIXELS }, next);
  const classes = Int32Array.from({ length: n }, () => Math.floor(next() * CLASSES));
  return { xs, classes };
}

/** Largest |a − b| relative to the largest |b| over all weights. */
function maxRelativeDifference(a: tf.Tensor[], b: tf.Tensor[]): number {
  let diff = 0;
  let scale = 0;
  a.forEach((t, i) => {
    const x = t.dataSync();
    const y = b[i]!.dataSync();
    y.forEach((v, j) => {
      diff = Math.max(diff, Math.abs(x[j]! - v));
      scale = Math.max(scale, Math.abs(v));
    });
  });
  return diff / scale;
}

function workersOf(trainer: DataParallelTrainer): Worker[] {
  return (trainer as unknown as { replicas: { worker: Worker }[] }).replicas.map((r) => r.worker);
}

describe('DataParallelTrainer (worker_threads replicas)', function () {
  this.timeout(300_000);
  const trainers: DataParallelTrainer[] = [];
  const start = async (model: tf.LayersModel, replicas: number, learningRate = 0.01): Promise<DataParallelTrainer> => {
    const trainer = await DataParallelTrainer.fromModel(model, { replicas, optimizer: { learningRate } });
    trainers.push(trainer);
    return trainer;
  };

  before(async () => {
    await setupTrainingBackend();
  });
  afterEach(async () => {
    await Promise.all(trainers.splice(0).map((t) => t.dispose()));
  });

  it('splits batches into near-equal shards, empty ones when the batch is smaller than the replicas', () => {
    expect(shardSizes(33, 2)).to.deep.equal([17, 16]);
    expect(shardSizes(2, 3)).to.deep.equal([1, 1, 0]);
    expect(shardSizes(1, 2)).to.deep.equal([1, 0]);
  });

  for (const replicas of [2, 3]) {
    it(`${replicas} replicas reach the same weights, loss and accuracy as trainOnBatch on the full batch (batches 33, 16, 2, 1)`, async () => {
      const reference = tinyCnn(11);
      reference.compile({ optimizer: tf.train.adam(0.01), loss: crossEntropy, metrics: ['accuracy'] });
      const initial = tinyCnn(11);
      const trainer = await start(initial, replicas);
      initial.dispose();
      expect(trainer.replicaCount).to.equal(replicas);

      for (const [step, n] of [33, 16, 2, 1].entries()) {
        const { xs, classes } = batch(n, 100 + step);
        const expected = await tf.tidy(() => [tf.tensor4d(xs, [n, SIZE, SIZE, 1]), tf.oneHot(tf.tensor1d(classes, 'int32'), CLASSES).toFloat()]);
        const [loss, accuracy] = (await reference.trainOnBatch(expected[0]!, expected[1]!)) as number[];
        tf.dispose(expected);
        const got = await trainer.trainOnBatch(xs, classes, CLASSES);
        expect(got.loss, `loss at step ${step}`).to.be.closeTo(loss!, 1e-5 * Math.abs(loss!));
        expect(got.accuracy, `accuracy at step ${step}`).to.be.closeTo(accuracy!, 1e-6);
      }
      const trained = trainer.getWeights();
      const rel = maxRelativeDifference(trained, reference.getWeights());
      tf.dispose(trained);
      expect(rel).to.be.below(1e-4);
      // Training moved the weights at all (so the comparison above is not trivially true).
      const fresh = tinyCnn(11);
      expect(maxRelativeDifference(fresh.getWeights(), reference.getWeights())).to.be.above(1e-3);
      fresh.dispose();

      const target = tinyCnn(99);
      trainer.syncTo(target);
      expect(maxRelativeDifference(target.getWeights(), reference.getWeights())).to.be.below(1e-4);
      target.dispose();
      reference.dispose();
    });
  }

  it('carries batch norm\'s moving statistics from this thread\'s replica, as trainOnBatch updates them', async () => {
    // One replica: the full batch goes through this thread, so the stock layer trained by
    // trainOnBatch and the replica (rebuilt with the fused batch norm) must agree on everything.
    const withBatchNorm = (seed: number): tf.LayersModel => tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [SIZE, SIZE, 1], filters: 4, kernelSize: 3, padding: 'same', useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
        tf.layers.batchNormalization({ momentum: 0.5 }),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: CLASSES, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
      ],
    });
    const reference = withBatchNorm(21);
    reference.compile({ optimizer: tf.train.adam(0.01), loss: crossEntropy, metrics: ['accuracy'] });
    const initial = withBatchNorm(21);
    const trainer = await start(initial, 1);
    initial.dispose();
    for (const [step, n] of [12, 7].entries()) {
      const { xs, classes } = batch(n, 300 + step);
      const io = tf.tidy(() => [tf.tensor4d(xs, [n, SIZE, SIZE, 1]), tf.oneHot(tf.tensor1d(classes, 'int32'), CLASSES).toFloat()]);
      await reference.trainOnBatch(io[0]!, io[1]!);
      tf.dispose(io);
      await trainer.trainOnBatch(xs, classes, CLASSES);
    }
    const trained = trainer.getWeights();
    const names = reference.weights.map((w) => w.name);
    const movingMean = names.findIndex((n) => n.includes('moving_mean'));
    // The moving mean left its initial zeros, and every weight matches the reference.
    expect(Math.max(...Array.from(trained[movingMean]!.dataSync(), Math.abs))).to.be.above(1e-3);
    trained.forEach((t, i) => {
      expect(maxRelativeDifference([t], [reference.getWeights()[i]!]), names[i]).to.be.below(1e-4);
    });
    tf.dispose(trained);
    reference.dispose();
  });

  it('keeps the tensor count stable across steps and frees everything on dispose', async () => {
    const before = tf.memory().numTensors;
    const model = tinyCnn(3);
    const trainer = await start(model, 2);
    const { xs, classes } = batch(9, 7);
    await trainer.trainOnBatch(xs, classes, CLASSES); // creates Adam's slot variables
    const afterFirst = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await trainer.trainOnBatch(xs, classes, CLASSES);
    expect(tf.memory().numTensors).to.equal(afterFirst);
    trainer.setLearningRate(0.001);
    await trainer.trainOnBatch(xs, classes, CLASSES);
    expect(tf.memory().numTensors).to.equal(afterFirst);
    await trainer.dispose();
    model.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });

  it('reports a NaN loss instead of hiding it', async () => {
    const model = tinyCnn(5);
    const trainer = await start(model, 2);
    model.dispose();
    const { xs, classes } = batch(6, 9);
    xs[5 * PIXELS] = NaN; // in the worker's shard
    const result = await trainer.trainOnBatch(xs, classes, CLASSES);
    expect(Number.isNaN(result.loss), `loss ${result.loss}`).to.equal(true);
  });

  it('rejects bad batches with a message naming the problem', async () => {
    const model = tinyCnn(5);
    const trainer = await start(model, 2);
    model.dispose();
    const { xs, classes } = batch(4, 1);
    await expectRejection(trainer.trainOnBatch(xs.subarray(1), classes, CLASSES), /input values for 4 classes/);
    await expectRejection(trainer.trainOnBatch(xs, Int32Array.from([0, 1, 2, 3]), CLASSES), /class 3 at index 3 is outside 0\.\.2/);
    await expectRejection(trainer.trainOnBatch(xs, classes, 5), /numClasses 5 but the model outputs 3/);
    expect(() => trainer.setLearningRate(-1)).to.throw(/positive/);
    // Still usable after refusing bad input.
    expect((await trainer.trainOnBatch(xs, classes, CLASSES)).loss).to.be.a('number');
  });

  it('rejects the step with a clear error when a worker dies, instead of hanging', async () => {
    const model = tinyCnn(5);
    const trainer = await start(model, 2);
    model.dispose();
    const { xs, classes } = batch(8, 4);
    await trainer.trainOnBatch(xs, classes, CLASSES);
    void workersOf(trainer)[0]!.terminate();
    await expectRejection(trainer.trainOnBatch(xs, classes, CLASSES), /worker 1 exited unexpectedly/);
    await expectRejection(trainer.trainOnBatch(xs, classes, CLASSES), /worker 1 exited unexpectedly/);
  });

  it('reads RINGCOUNT_TRAIN_WORKERS and refuses nonsense', () => {
    const saved = process.env.RINGCOUNT_TRAIN_WORKERS;
    try {
      process.env.RINGCOUNT_TRAIN_WORKERS = '1';
      expect(trainWorkersSetting()).to.equal(1);
      process.env.RINGCOUNT_TRAIN_WORKERS = 'two';
      expect(() => trainWorkersSetting()).to.throw(/RINGCOUNT_TRAIN_WORKERS='two' must be an integer/);
      process.env.RINGCOUNT_TRAIN_WORKERS = '0';
      expect(() => trainWorkersSetting()).to.throw(/RINGCOUNT_TRAIN_WORKERS='0'/);
    } finally {
      if (saved === undefined) delete process.env.RINGCOUNT_TRAIN_WORKERS;
      else process.env.RINGCOUNT_TRAIN_WORKERS = saved;
    }
  });

  it('describes a model so that it rebuilds with identical weights', async () => {
    const model = tinyCnn(8);
    const description = describeModel(model);
    const rebuilt = await tf.models.modelFromJSON({ modelTopology: description.topology } as tf.io.ModelJSON);
    expect(rebuilt.getWeights().map((w) => w.shape)).to.deep.equal(description.weightShapes);
    rebuilt.dispose();
    model.dispose();
  });

  // Each in a fresh process, with ONNX Runtime off (the WASM-only path): with dispose(), and without
  // it (idle workers are unref'd, yet a pending step keeps the process waiting for its answer).
  for (const dispose of [true, false]) {
    it(`lets the process exit ${dispose ? 'after dispose()' : 'without dispose(), once the pending step has finished'} (ONNX Runtime off)`, () => {
      const dist = path.resolve(__dirname, '..', 'src', 'engine');
      const script = `
        const tf = require('@tensorflow/tfjs');
        const { setupTrainingBackend, DataParallelTrainer } = require(${JSON.stringify(path.join(dist, 'index.js'))});
        (async () => {
          const setup = await setupTrainingBackend();
          const model = tf.sequential({ layers: [
            tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, activation: 'relu' }),
            tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' }) ] });
          const trainer = await DataParallelTrainer.fromModel(model, { replicas: 3, optimizer: { learningRate: 0.01 } });
          const r = await trainer.trainOnBatch(new Float32Array(3 * 64).fill(0.5), [0, 1, 1], 2);
          if (${String(dispose)}) await trainer.dispose();
          console.log(JSON.stringify({ tag: setup.tag, loss: r.loss }));
        })().catch((e) => { console.error(e); process.exit(1); });`;
      const child = spawnSync(process.execPath, ['-e', script], {
        encoding: 'utf8', timeout: 120_000, cwd: path.resolve(__dirname, '..', '..'),
        env: { ...process.env, RINGCOUNT_ONNXRUNTIME: 'off' },
      });
      expect(child.signal, `child killed (hung?): ${child.stderr}`).to.equal(null);
      expect(child.status, child.stderr).to.equal(0);
      const out = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { tag?: string; loss?: number };
      expect(out.tag).to.equal('wasm');
      expect(out.loss).to.be.above(0);
    });
  }
});

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    expect((error as Error).message).to.match(message);
    return;
  }
  expect.fail(`expected a rejection matching ${String(message)}`);
}
