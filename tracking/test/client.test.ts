/**
 * The typed client against a real server: the whole flow a notebook and the prediction API follow
 * (experiment → run → params/metrics → artifacts → register → alias → download by alias),
 * plus its retry and unreachable-server behaviour.
 */
import { expect } from 'chai';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MlflowApiError, TrackingClient, TrackingServerUnreachableError } from '../src/index.js';
import { startTestServer, type TestServer } from './helpers.js';

describe('tracking client', function () {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s.stop();
  });

  it('runs the whole flow: experiment → run → params/metrics → artifacts → register → alias → download by alias', async () => {
    const client = new TrackingClient({ trackingUri: s.url });
    const expId = await client.getOrCreateExperiment('ring-count', { owner: 'ds' });
    expect(await client.getOrCreateExperiment('ring-count')).to.equal(expId);

    const run = await client.createRun(expId, { runName: 'cnn-64', tags: { model: 'cnn' } });
    await run.logParams({ lr: 0.001, epochs: 3, augment: true });
    for (let step = 0; step < 2500; step++) await run.logMetric('loss', 1 / (step + 1), step);
    await run.logMetrics({ val_acc: 0.93, val_loss: 0.2 }, 2500);
    await run.setTag('mlflow.note.content', 'trained in a test');

    const modelDir = join(s.dir, 'local-model');
    await mkdir(join(modelDir, 'weights'), { recursive: true });
    await writeFile(join(modelDir, 'model.json'), '{"format":"layers-model"}');
    await writeFile(join(modelDir, 'weights', 'group1-shard1of1.bin'), Buffer.from([1, 2, 3, 4]));
    await writeFile(join(modelDir, 'ringcount-model.json'), '{"sha256":{}}');
    expect(await run.logArtifacts(modelDir, 'model')).to.equal(3);
    await run.logArtifact(join(modelDir, 'model.json'), 'extra');
    const info = await run.end();
    expect(info.status).to.equal('FINISHED');
    expect(info.end_time).to.be.a('number');

    const stored = await client.getRun(run.runId);
    expect(stored.data.params).to.deep.equal([
      { key: 'augment', value: 'true' },
      { key: 'epochs', value: '3' },
      { key: 'lr', value: '0.001' },
    ]);
    expect(stored.data.metrics.find((m) => m.key === 'val_acc')?.value).to.equal(0.93);
    const history = await client.getMetricHistory(run.runId, 'loss');
    expect(history).to.have.length(2500);
    expect(history[2499]).to.include({ step: 2499, value: 1 / 2500 });

    const mv = await client.registerModel('ring-counter', run, 'model', { val_acc: '0.93' });
    expect(mv.source).to.equal(`${run.artifactUri}/model`);
    expect(mv.tags).to.deep.equal([{ key: 'val_acc', value: '0.93' }]);
    await client.setAlias('ring-counter', 'champion', mv.version);
    expect((await client.getModelVersionByAlias('ring-counter', 'champion')).version).to.equal(mv.version);
    expect((await client.searchModelVersions(`name = 'ring-counter'`)).map((v) => v.version)).to.deep.equal([mv.version]);
    expect((await client.createRegisteredModel('ring-counter')).name).to.equal('ring-counter');

    const dest = join(s.dir, 'serving', 'current');
    await writeFile(join(s.dir, 'stale'), 'x');
    const downloaded = await client.downloadModelVersion('ring-counter', { alias: 'champion' }, dest);
    expect(downloaded.modelVersion.version).to.equal(mv.version);
    expect((await readdir(dest)).sort()).to.deep.equal(['model.json', 'ringcount-model.json', 'weights']);
    expect([...(await readFile(join(dest, 'weights', 'group1-shard1of1.bin')))]).to.deep.equal([1, 2, 3, 4]);
    expect(await readFile(join(dest, 'model.json'), 'utf8')).to.equal('{"format":"layers-model"}');
    // Downloading again replaces the folder whole.
    await client.downloadModelVersion('ring-counter', { version: mv.version }, dest);
    expect((await readdir(join(s.dir, 'serving'))).sort()).to.deep.equal(['current']);

    const single = await client.downloadArtifacts(run.artifactUri, join(s.dir, 'one'), 'extra/model.json');
    expect(await readFile(single, 'utf8')).to.equal('{"format":"layers-model"}');
  });

  it('surfaces MLflow errors with their code, and flushes nothing half-way', async () => {
    const client = new TrackingClient({ trackingUri: s.url });
    const run = await client.startRun('errors');
    await run.logParam('p', 'a');
    const err = await run.logParam('p', 'b').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MlflowApiError);
    expect((err as MlflowApiError).errorCode).to.equal('INVALID_PARAMETER_VALUE');
    expect((err as MlflowApiError).status).to.equal(400);
    expect((err as MlflowApiError).message).to.contain('Changing param values is not allowed');
    const missing = await client.getModelVersionByAlias('nope', 'champion').catch((e: unknown) => e);
    expect((missing as MlflowApiError).errorCode).to.equal('RESOURCE_DOES_NOT_EXIST');
  });

  it('says clearly when the server is not reachable, naming the URL and npm run tracking', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const client = new TrackingClient({ trackingUri: `http://127.0.0.1:${port}` });
    const err = await client.getOrCreateExperiment('x').catch((e: unknown) => e);
    expect(err).to.be.instanceOf(TrackingServerUnreachableError);
    expect((err as Error).message).to.contain(`http://127.0.0.1:${port}`);
    expect((err as Error).message).to.contain('npm run tracking');
  });

  it('retries 429 and 5xx answers, then succeeds', async () => {
    // A real HTTP front that fails the first two calls, then forwards to the tracking server.
    let calls = 0;
    const front: Server = createServer((req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(503, { 'retry-after': '0' }).end('{"error_code":"TEMPORARILY_UNAVAILABLE","message":"busy"}');
        return;
      }
      if (calls === 2) {
        res.writeHead(429, { 'retry-after': '0' }).end('{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}');
        return;
      }
      void fetch(`${s.url}${req.url}`, { method: req.method }).then(async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()));
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
    try {
      const client = new TrackingClient({ trackingUri: `http://127.0.0.1:${(front.address() as AddressInfo).port}` });
      const exp = await client.getExperimentByName('Default');
      expect(exp?.experiment_id).to.equal('0');
      expect(calls).to.equal(3);
      const gaveUp = new TrackingClient({ trackingUri: `http://127.0.0.1:${(front.address() as AddressInfo).port}`, retries: 0 });
      calls = 0;
      const err = await gaveUp.getExperimentByName('Default').catch((e: unknown) => e);
      expect((err as MlflowApiError).status).to.equal(503);
    } finally {
      await new Promise<void>((r) => front.close(() => r()));
    }
  });

  it('sends MLFLOW_TRACKING_TOKEN as a bearer token', async () => {
    const secured = await startTestServer({ token: 'tok' });
    const previous = process.env.MLFLOW_TRACKING_TOKEN;
    try {
      const denied = await new TrackingClient({ trackingUri: secured.url, token: '' }).getOrCreateExperiment('t').catch((e: unknown) => e);
      expect((denied as MlflowApiError).errorCode).to.equal('UNAUTHENTICATED');
      process.env.MLFLOW_TRACKING_TOKEN = 'tok';
      expect(await new TrackingClient({ trackingUri: secured.url }).getOrCreateExperiment('t')).to.equal('1');
    } finally {
      if (previous === undefined) delete process.env.MLFLOW_TRACKING_TOKEN;
      else process.env.MLFLOW_TRACKING_TOKEN = previous;
      await secured.stop();
    }
  });
});
