import { expect } from 'chai';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadModelDir, verifyModelDir } from '@ringcount/model-core';
import { startTrackingServer, TrackingClient, type RunningTrackingServer } from '@ringcount/tracking';
import { trainAndTrack, TrainingDivergedError, REGISTERED_MODEL } from '../src/index.js';
import { writeFixtureDataset } from './dataset-fixture.js';

describe('training (real tracking server)', () => {
  let dir: string;
  let server: RunningTrackingServer;
  let client: TrackingClient;
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'train-test-'));
    await writeFixtureDataset(path.join(dir, 'data'), { count: 48, maxRings: 3, seed: 5 });
    server = await startTrackingServer({ port: 0, dbPath: path.join(dir, 'tracking.db'), artifactsRoot: path.join(dir, 'artifacts'), log: () => undefined });
    client = new TrackingClient({ trackingUri: server.url });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('trains v1 for one epoch, logs everything, registers a version and exports the model', async () => {
    const result = await trainAndTrack({
      version: 'v1',
      dataDir: path.join(dir, 'data'),
      epochs: 1,
      imageSize: 24,
      batchSize: 8,
      seed: 1,
      trackingUri: server.url,
      experiment: 'test-train',
      exportDir: path.join(dir, 'models'),
      log,
    });
    expect(result.epochsRun).to.equal(1);
    expect(result.dataset).to.include({ size: 48, digest: 'fixture-5-48', generatorSeed: 5 });
    expect(result.test.count).to.equal(result.dataset.test);
    expect(lines.some((l) => /epoch 1 batch \d+\/\d+ {2}loss/.test(l))).to.equal(true);
    expect(lines.some((l) => /^epoch 1\/1: train loss/.test(l))).to.equal(true);

    const run = await client.getRun(result.runId);
    expect(run.info.status).to.equal('FINISHED');
    const tags = Object.fromEntries(run.data.tags.map((t) => [t.key, t.value]));
    expect(tags).to.include({ backend: result.backend, version_label: 'v1', data_digest: 'fixture-5-48', generator_seed: '5' });
    const params = Object.fromEntries(run.data.params.map((p) => [p.key, p.value]));
    expect(params).to.include({ version: 'v1', epochs: '1', image_size: '24', seed: '1', data_digest: 'fixture-5-48', generator_seed: '5' });
    // Data-parallel replicas by default on ≥ 2 CPUs (RINGCOUNT_TRAIN_WORKERS overrides).
    const replicas = process.env.RINGCOUNT_TRAIN_WORKERS ? Number(process.env.RINGCOUNT_TRAIN_WORKERS) : os.availableParallelism() >= 2 ? 2 : 1;
    expect(params.train_replicas).to.equal(String(replicas));
    expect(lines.join('\n')).to.match(replicas > 1 ? new RegExp(`training data-parallel on ${replicas} replicas`) : /training on one thread/);
    for (const key of ['train_loss', 'train_accuracy', 'val_loss', 'val_accuracy']) {
      const history = await client.getMetricHistory(result.runId, key);
      expect(history.map((m) => m.step), key).to.deep.equal([1]);
    }
    const testAcc = await client.getMetricHistory(result.runId, 'test_accuracy');
    expect(Number(testAcc[0]?.value)).to.be.closeTo(result.test.accuracy, 1e-9);

    const plots = (await client.listArtifacts(run.info.artifact_uri, 'plots')).map((f) => f.path);
    expect(plots).to.include.members(['plots/training_curves.png', 'plots/confusion_matrix.png']);
    const modelFiles = (await client.listArtifacts(run.info.artifact_uri, 'model')).map((f) => f.path).sort();
    expect(modelFiles).to.deep.equal(['model/model.json', 'model/ringcount-model.json', 'model/weights.bin']);

    const mv = await client.getModelVersion(REGISTERED_MODEL, result.registeredVersion as string);
    expect(mv.run_id).to.equal(result.runId);
    expect(mv.tags).to.deep.include({ key: 'version_label', value: 'v1' });
    // The registered version downloads to a directory whose checksums verify.
    const downloaded = await client.downloadModelVersion(REGISTERED_MODEL, { version: mv.version }, path.join(dir, 'downloaded'));
    const meta = await verifyModelDir(downloaded.dir);
    expect(meta).to.include({ version: 'v1', runId: result.runId, dataDigest: 'fixture-5-48', generatorSeed: 5, backend: result.backend });
    expect(meta.inputShape).to.deep.equal([24, 24, 1]);
    expect(meta.labels).to.deep.equal([0, 1, 2, 3]);
    expect(meta.preprocessing).to.deep.equal({ size: 24, background: 'white', normalization: 'ink' });

    const exported = path.join(dir, 'models', 'v1');
    expect((await readdir(exported)).sort()).to.deep.equal(['model.json', 'ringcount-model.json', 'weights.bin']);
    const { model } = await loadModelDir(exported);
    const out = tf.tidy(() => (model.predict(tf.zeros([2, 24, 24, 1])) as tf.Tensor).shape);
    expect(out).to.deep.equal([2, 4]);
    model.dispose();
  });

  it('stops on NaN loss with a clear message and marks the run FAILED', async () => {
    let err: unknown;
    const before = await client.searchModelVersions(`name='${REGISTERED_MODEL}'`);
    await trainAndTrack({
      version: 'v2',
      dataDir: path.join(dir, 'data'),
      epochs: 2,
      imageSize: 24,
      batchSize: 8,
      learningRate: Infinity, // the first update makes every weight non-finite
      trackingUri: server.url,
      experiment: 'test-train',
      log,
    }).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(TrainingDivergedError);
    expect((err as Error).message).to.match(/training diverged: loss is NaN at epoch 1, batch 2\/\d+ .*marked FAILED/);
    const exp = await client.getExperimentByName('test-train');
    const { runs } = await client.searchRuns([exp?.experiment_id as string], { filter: "tags.version_label = 'v2'" });
    expect(runs).to.have.length(1);
    expect(runs[0]?.info.status).to.equal('FAILED');
    expect(runs[0]?.data.tags.find((t) => t.key === 'failure_reason')?.value).to.match(/loss is NaN/);
    // Nothing was registered for the failed run.
    expect(await client.searchModelVersions(`name='${REGISTERED_MODEL}'`)).to.have.length(before.length);
  });

  it('trains the same with RINGCOUNT_TRAIN_WORKERS=1 (one thread) as with 2 data-parallel replicas', async () => {
    const saved = process.env.RINGCOUNT_TRAIN_WORKERS;
    const results = [];
    try {
      for (const workers of ['1', '2']) {
        process.env.RINGCOUNT_TRAIN_WORKERS = workers;
        const own: string[] = [];
        const result = await trainAndTrack({
          version: 'v1', dataDir: path.join(dir, 'data'), epochs: 2, imageSize: 24, batchSize: 8, seed: 3,
          trackingUri: server.url, experiment: 'test-replicas', register: false, log: (l) => own.push(l),
        });
        const run = await client.getRun(result.runId);
        expect(run.data.params.find((p) => p.key === 'train_replicas')?.value).to.equal(workers);
        expect(own.join('\n')).to.match(workers === '1' ? /training on one thread/ : /training data-parallel on 2 replicas/);
        results.push(result);
      }
    } finally {
      if (saved === undefined) delete process.env.RINGCOUNT_TRAIN_WORKERS;
      else process.env.RINGCOUNT_TRAIN_WORKERS = saved;
    }
    const [single, parallel] = results;
    // Same gradients up to summation order, hence the same curves (and validation on the synced
    // model); an accuracy may differ by one image whose top two classes nearly tie.
    const tolerance = { trainLoss: 1e-3, valLoss: 1e-3, trainAccuracy: 1 / single!.dataset.train, valAccuracy: 1 / single!.dataset.validation };
    for (const key of ['trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy'] as const) {
      single!.history[key].forEach((v, i) => expect(parallel!.history[key][i], `${key}[${i}]`).to.be.closeTo(v, tolerance[key] * Math.max(1, Math.abs(v)) + 1e-9));
    }
    expect(parallel!.test.accuracy).to.be.closeTo(single!.test.accuracy, 1 / single!.test.count + 1e-9);
  });

  it('fails the run with a clear message when the data folder is wrong', async () => {
    let err: unknown;
    await trainAndTrack({ version: 'v1', dataDir: path.join(dir, 'missing'), epochs: 1, imageSize: 24, trackingUri: server.url, experiment: 'test-bad', log }).catch(
      (e: unknown) => (err = e),
    );
    expect((err as Error).message).to.match(/compound_rings\.csv: ENOENT/);
    const exp = await client.getExperimentByName('test-bad');
    const { runs } = await client.searchRuns([exp?.experiment_id as string]);
    expect(runs[0]?.info.status).to.equal('FAILED');
  });
});
