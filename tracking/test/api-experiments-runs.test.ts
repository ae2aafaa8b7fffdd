/**
 * MLflow REST API: experiments and runs, from the request/response examples of MLflow's REST API docs,
 * including error cases and MLflow's limits. Runs against a real server, SQLite file and HTTP.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from './helpers.js';

describe('tracking API: experiments and runs', function () {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s.stop();
  });

  async function newRun(experimentId: string, extra: Record<string, unknown> = {}): Promise<string> {
    const res = await s.api('POST', 'runs/create', { experiment_id: experimentId, start_time: 1000, ...extra });
    expect(res.status).to.equal(200);
    return res.body.run.info.run_id as string;
  }

  it('serves /health and /version', async () => {
    expect((await s.api('GET', '/health')).body).to.equal('OK');
    expect((await s.api('GET', '/version')).body).to.match(/^\d+\.\d+\.\d+$/);
  });

  it('has the Default experiment 0, as MLflow', async () => {
    const res = await s.api('GET', 'experiments/get', { experiment_id: '0' });
    expect(res.body.experiment).to.include({ experiment_id: '0', name: 'Default', lifecycle_stage: 'active', artifact_location: 'mlflow-artifacts:/0' });
  });

  it('creates, gets, renames, tags, deletes and restores an experiment', async () => {
    const created = await s.api('POST', 'experiments/create', { name: 'exp-a', tags: [{ key: 'team', value: 'rings' }] });
    expect(created.status).to.equal(200);
    expect(created.body).to.have.keys('experiment_id');
    const id = created.body.experiment_id as string;
    expect(id).to.be.a('string');

    const byName = await s.api('GET', 'experiments/get-by-name', { experiment_name: 'exp-a' });
    expect(byName.body.experiment).to.include({ experiment_id: id, name: 'exp-a', lifecycle_stage: 'active', artifact_location: `mlflow-artifacts:/${id}` });
    expect(byName.body.experiment.tags).to.deep.equal([{ key: 'team', value: 'rings' }]);
    expect(byName.body.experiment.creation_time).to.be.a('number');

    expect((await s.api('POST', 'experiments/update', { experiment_id: id, new_name: 'exp-b' })).body).to.deep.equal({});
    expect((await s.api('GET', 'experiments/get', { experiment_id: id })).body.experiment.name).to.equal('exp-b');
    await s.api('POST', 'experiments/set-experiment-tag', { experiment_id: id, key: 'stage', value: 'dev' });
    expect((await s.api('GET', 'experiments/get', { experiment_id: id })).body.experiment.tags).to.deep.include({ key: 'stage', value: 'dev' });

    expect((await s.api('POST', 'experiments/delete', { experiment_id: id })).status).to.equal(200);
    expect((await s.api('GET', 'experiments/get', { experiment_id: id })).body.experiment.lifecycle_stage).to.equal('deleted');
    const active = await s.api('POST', 'experiments/search', { max_results: 100 });
    expect(active.body.experiments.map((e: { name: string }) => e.name)).to.not.include('exp-b');
    const deleted = await s.api('POST', 'experiments/search', { view_type: 'DELETED_ONLY' });
    expect(deleted.body.experiments.map((e: { name: string }) => e.name)).to.deep.equal(['exp-b']);
    await s.api('POST', 'experiments/restore', { experiment_id: id });
    expect((await s.api('GET', 'experiments/get', { experiment_id: id })).body.experiment.lifecycle_stage).to.equal('active');
  });

  it('answers MLflow error codes and statuses for experiment mistakes', async () => {
    await s.api('POST', 'experiments/create', { name: 'dup' });
    const dup = await s.api('POST', 'experiments/create', { name: 'dup' });
    expect(dup.status).to.equal(400);
    expect(dup.body.error_code).to.equal('RESOURCE_ALREADY_EXISTS');
    expect(dup.body.message).to.contain('dup');

    const missing = await s.api('GET', 'experiments/get', { experiment_id: '999999' });
    expect(missing.status).to.equal(404);
    expect(missing.body).to.deep.equal({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'No Experiment with id=999999 exists' });
    expect((await s.api('GET', 'experiments/get-by-name', { experiment_name: 'nope' })).status).to.equal(404);

    const noName = await s.api('POST', 'experiments/create', {});
    expect(noName.status).to.equal(400);
    expect(noName.body.error_code).to.equal('INVALID_PARAMETER_VALUE');
    expect(noName.body.message).to.contain("'name'");
  });

  it('searches experiments with a filter, order_by and page tokens', async () => {
    for (const n of ['srch-1', 'srch-2', 'srch-3']) await s.api('POST', 'experiments/create', { name: n });
    const first = await s.api('POST', 'experiments/search', { filter: "name LIKE 'srch-%'", order_by: ['name DESC'], max_results: 2 });
    expect(first.body.experiments.map((e: { name: string }) => e.name)).to.deep.equal(['srch-3', 'srch-2']);
    expect(first.body.next_page_token).to.be.a('string');
    const second = await s.api('POST', 'experiments/search', { filter: "name LIKE 'srch-%'", order_by: ['name DESC'], max_results: 2, page_token: first.body.next_page_token });
    expect(second.body.experiments.map((e: { name: string }) => e.name)).to.deep.equal(['srch-1']);
    expect(second.body).to.not.have.property('next_page_token');
    const viaGet = await s.api('GET', 'experiments/search', { filter: "name = 'srch-2'" });
    expect(viaGet.body.experiments).to.have.length(1);
    const badToken = await s.api('POST', 'experiments/search', { page_token: 'not-a-token' });
    expect(badToken.status).to.equal(400);
    expect(badToken.body.error_code).to.equal('INVALID_PARAMETER_VALUE');
    const tooMany = await s.api('POST', 'experiments/search', { max_results: 50001 });
    expect(tooMany.status).to.equal(400);
  });

  it('creates a run with a generated name and the mlflow.runName tag', async () => {
    const res = await s.api('POST', 'runs/create', { experiment_id: '0', start_time: 1234, tags: [{ key: 'k', value: 'v' }] });
    const run = res.body.run;
    expect(run.info.run_id).to.match(/^[0-9a-f]{32}$/);
    expect(run.info.run_uuid).to.equal(run.info.run_id);
    expect(run.info).to.include({ experiment_id: '0', status: 'RUNNING', start_time: 1234, lifecycle_stage: 'active', artifact_uri: `mlflow-artifacts:/0/${run.info.run_id}/artifacts` });
    expect(run.info.run_name).to.match(/^[a-z]+-[a-z]+-\d+$/);
    expect(run.data.tags).to.deep.include({ key: 'mlflow.runName', value: run.info.run_name });
    expect(run.inputs).to.deep.equal({ dataset_inputs: [] });

    const named = await s.api('POST', 'runs/create', { experiment_id: '0', run_name: 'cnn-64' });
    expect(named.body.run.info.run_name).to.equal('cnn-64');
    const clash = await s.api('POST', 'runs/create', { experiment_id: '0', run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] });
    expect(clash.status).to.equal(400);
    const noExp = await s.api('POST', 'runs/create', { experiment_id: '424242' });
    expect(noExp.status).to.equal(404);
  });

  it('logs metrics, params and tags; get returns latest metric values', async () => {
    const runId = await newRun('0');
    await s.api('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 0.9, timestamp: 10, step: 1 });
    await s.api('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 0.4, timestamp: 20, step: 2 });
    await s.api('POST', 'runs/log-metric', { run_id: runId, key: 'loss', value: 0.7, timestamp: 30, step: 0 }); // older step: not latest
    await s.api('POST', 'runs/log-metric', { run_uuid: runId, key: 'acc', value: '0.5', timestamp: '40' }); // int64 as string, deprecated run_uuid
    await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'lr', value: '0.001' });
    await s.api('POST', 'runs/set-tag', { run_id: runId, key: 'mlflow.note.content', value: 'hi' });
    const run = (await s.api('GET', 'runs/get', { run_id: runId })).body.run;
    expect(run.data.metrics).to.deep.equal([
      { key: 'acc', value: 0.5, timestamp: 40, step: 0 },
      { key: 'loss', value: 0.4, timestamp: 20, step: 2 },
    ]);
    expect(run.data.params).to.deep.equal([{ key: 'lr', value: '0.001' }]);
    expect(run.data.tags).to.deep.include({ key: 'mlflow.note.content', value: 'hi' });

    const history = await s.api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'loss' });
    expect(history.body.metrics.map((m: { value: number }) => m.value)).to.deep.equal([0.7, 0.9, 0.4]);

    await s.api('POST', 'runs/delete-tag', { run_id: runId, key: 'mlflow.note.content' });
    expect((await s.api('GET', 'runs/get', { run_id: runId })).body.run.data.tags.map((t: { key: string }) => t.key)).to.not.include('mlflow.note.content');
    expect((await s.api('POST', 'runs/delete-tag', { run_id: runId, key: 'never' })).status).to.equal(404);
  });

  it('stores NaN and infinities as MLflow writes them', async () => {
    const runId = await newRun('0');
    await s.api('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: [
        { key: 'a', value: 'NaN', timestamp: 1, step: 0 },
        { key: 'b', value: 'Infinity', timestamp: 1, step: 0 },
        { key: 'c', value: '-Infinity', timestamp: 1, step: 0 },
      ],
    });
    const metrics = (await s.api('GET', 'runs/get', { run_id: runId })).body.run.data.metrics;
    expect(metrics.map((m: { value: unknown }) => m.value)).to.deep.equal(['NaN', 'Infinity', '-Infinity']);
    for (const [key, expected] of [['a', 'NaN'], ['b', 'Infinity'], ['c', '-Infinity']]) {
      const history = await s.api('GET', 'metrics/get-history', { run_id: runId, metric_key: key });
      expect(history.body).to.deep.equal({ metrics: [{ key, value: expected, timestamp: 1, step: 0 }] });
    }
    // Doubles come back exactly as logged.
    const precise = [0.1 + 0.2, Math.PI, 1e-300, -1 / 3, 2 ** 53];
    await s.api('POST', 'runs/log-batch', { run_id: runId, metrics: precise.map((value, step) => ({ key: 'precise', value, timestamp: 1, step })) });
    const back = await s.api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'precise' });
    expect(back.body.metrics.map((m: { value: number }) => m.value)).to.deep.equal(precise);
    expect((await s.api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'never-logged' })).body).to.deep.equal({ metrics: [] });
  });

  it('refuses to change a logged param, but accepts the same value again', async () => {
    const runId = await newRun('0');
    expect((await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'p', value: 'a' })).status).to.equal(200);
    expect((await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'p', value: 'a' })).status).to.equal(200);
    const changed = await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'p', value: 'b' });
    expect(changed.status).to.equal(400);
    expect(changed.body.error_code).to.equal('INVALID_PARAMETER_VALUE');
    expect(changed.body.message).to.contain('Changing param values is not allowed');
  });

  it('enforces MLflow limits: batch sizes, key and value lengths, bad values', async () => {
    const runId = await newRun('0');
    const metric = (i: number) => ({ key: `m${i % 7}`, value: i, timestamp: i, step: i });
    const tooManyMetrics = await s.api('POST', 'runs/log-batch', { run_id: runId, metrics: Array.from({ length: 1001 }, (_, i) => metric(i)) });
    expect(tooManyMetrics.status).to.equal(400);
    expect(tooManyMetrics.body.message).to.contain('at most 1000 metrics');
    const tooManyParams = await s.api('POST', 'runs/log-batch', { run_id: runId, params: Array.from({ length: 101 }, (_, i) => ({ key: `p${i}`, value: 'v' })) });
    expect(tooManyParams.body.message).to.contain('at most 100 params');
    const tooManyTags = await s.api('POST', 'runs/log-batch', { run_id: runId, tags: Array.from({ length: 101 }, (_, i) => ({ key: `t${i}`, value: 'v' })) });
    expect(tooManyTags.body.message).to.contain('at most 100 tags');
    const tooManyTotal = await s.api('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: Array.from({ length: 950 }, (_, i) => metric(i)),
      params: Array.from({ length: 51 }, (_, i) => ({ key: `q${i}`, value: 'v' })),
    });
    expect(tooManyTotal.body.message).to.contain('1000 total');
    const longKey = await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'k'.repeat(251), value: 'v' });
    expect(longKey.status).to.equal(400);
    expect(longKey.body.message).to.contain('250');
    const longValue = await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'k', value: 'v'.repeat(6001) });
    expect(longValue.body.message).to.contain('6000');
    expect((await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'k6000', value: 'v'.repeat(6000) })).status).to.equal(200);
    const badName = await s.api('POST', 'runs/log-metric', { run_id: runId, key: '../etc', value: 1, timestamp: 1 });
    expect(badName.body.error_code).to.equal('INVALID_PARAMETER_VALUE');
    const badValue = await s.api('POST', 'runs/log-metric', { run_id: runId, key: 'x', value: 'abc', timestamp: 1 });
    expect(badValue.body.message).to.contain('valid double');
    const noTimestamp = await s.api('POST', 'runs/log-metric', { run_id: runId, key: 'x', value: 1 });
    expect(noTimestamp.body.message).to.contain("'timestamp'");
    const noRun = await s.api('POST', 'runs/log-metric', { run_id: 'f'.repeat(32), key: 'x', value: 1, timestamp: 1 });
    expect(noRun.status).to.equal(404);
  });

  it('applies a log-batch whole or not at all', async () => {
    const runId = await newRun('0');
    await s.api('POST', 'runs/log-parameter', { run_id: runId, key: 'fixed', value: 'one' });
    const res = await s.api('POST', 'runs/log-batch', {
      run_id: runId,
      metrics: [{ key: 'loss', value: 1, timestamp: 1, step: 0 }],
      params: [{ key: 'fresh', value: 'x' }, { key: 'fixed', value: 'two' }],
      tags: [{ key: 'tagged', value: 'yes' }],
    });
    expect(res.status).to.equal(400);
    const run = (await s.api('GET', 'runs/get', { run_id: runId })).body.run;
    expect(run.data.metrics).to.deep.equal([]);
    expect(run.data.params).to.deep.equal([{ key: 'fixed', value: 'one' }]);
    expect(run.data.tags.map((t: { key: string }) => t.key)).to.not.include('tagged');
    // A bad metric late in the batch also leaves nothing behind.
    const late = await s.api('POST', 'runs/log-batch', { run_id: runId, metrics: [{ key: 'ok', value: 1, timestamp: 1 }, { key: 'bad', value: 'x', timestamp: 1 }] });
    expect(late.status).to.equal(400);
    expect((await s.api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'ok' })).body.metrics).to.deep.equal([]);
  });

  it('updates, deletes and restores runs; deleted runs refuse writes', async () => {
    const runId = await newRun('0');
    const upd = await s.api('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: 5000, run_name: 'renamed' });
    expect(upd.body.run_info).to.include({ status: 'FINISHED', end_time: 5000, run_name: 'renamed' });
    const tags = (await s.api('GET', 'runs/get', { run_id: runId })).body.run.data.tags;
    expect(tags).to.deep.include({ key: 'mlflow.runName', value: 'renamed' });
    expect((await s.api('POST', 'runs/update', { run_id: runId, status: 'DONE' })).status).to.equal(400);
    await s.api('POST', 'runs/delete', { run_id: runId });
    expect((await s.api('GET', 'runs/get', { run_id: runId })).body.run.info.lifecycle_stage).to.equal('deleted');
    const write = await s.api('POST', 'runs/log-metric', { run_id: runId, key: 'x', value: 1, timestamp: 1 });
    expect(write.status).to.equal(400);
    expect(write.body.message).to.contain("must be in the 'active' state");
    await s.api('POST', 'runs/restore', { run_id: runId });
    expect((await s.api('POST', 'runs/log-metric', { run_id: runId, key: 'x', value: 1, timestamp: 1 })).status).to.equal(200);
  });

  it('logs dataset inputs', async () => {
    const runId = await newRun('0');
    const dataset = { name: 'rings-v1', digest: 'abc123', source_type: 'local', source: 'raw-data/v1', schema: '{}' };
    const res = await s.api('POST', 'runs/log-inputs', { run_id: runId, datasets: [{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }] });
    expect(res.status).to.equal(200);
    const run = (await s.api('GET', 'runs/get', { run_id: runId })).body.run;
    expect(run.inputs.dataset_inputs).to.deep.equal([{ tags: [{ key: 'mlflow.data.context', value: 'training' }], dataset }]);
    expect((await s.api('POST', 'runs/log-inputs', { run_id: runId, datasets: [{ dataset: { name: 'x' } }] })).status).to.equal(400);
  });

  it('pages metric history with max_results and page_token', async () => {
    const runId = await newRun('0');
    await s.api('POST', 'runs/log-batch', { run_id: runId, metrics: Array.from({ length: 25 }, (_, i) => ({ key: 'curve', value: i / 10, timestamp: 1000 + i, step: i })) });
    const steps: number[] = [];
    let token: string | undefined;
    do {
      const page = await s.api('GET', 'metrics/get-history', { run_id: runId, metric_key: 'curve', max_results: 10, ...(token ? { page_token: token } : {}) });
      steps.push(...page.body.metrics.map((m: { step: number }) => m.step));
      token = page.body.next_page_token;
    } while (token);
    expect(steps).to.deep.equal(Array.from({ length: 25 }, (_, i) => i));
  });

  it('answers wrong endpoints, methods and bodies in MLflow shape, never 500', async () => {
    const unknown = await s.api('GET', 'runs/nope');
    expect(unknown.status).to.equal(404);
    expect(unknown.body.error_code).to.equal('ENDPOINT_NOT_FOUND');
    const wrongMethod = await s.api('GET', 'runs/create');
    expect(wrongMethod.status).to.equal(405);
    expect(wrongMethod.body.message).to.contain('POST');
    const malformed = await s.api('POST', 'runs/create', '{"experiment_id": ');
    expect(malformed.status).to.equal(400);
    expect(malformed.body.error_code).to.equal('BAD_REQUEST');
    expect(malformed.body.message).to.contain('Malformed JSON');
    const notObject = await s.api('POST', 'runs/create', '[1,2]');
    expect(notObject.status).to.equal(400);
    const wrongType = await s.api('POST', 'runs/log-batch', { run_id: 'x', metrics: 'loss' });
    expect(wrongType.status).to.equal(400);
    const wrongTypeName = await s.api('POST', 'experiments/create', { name: { nested: true } });
    expect(wrongTypeName.status).to.equal(400);
  });

  it('answers 413 for a JSON body over the limit', async () => {
    const small = await startTestServer({ maxJsonBytes: 1024 });
    try {
      const res = await small.api('POST', 'experiments/create', { name: 'x'.repeat(4000) });
      expect(res.status).to.equal(413);
      expect(res.body.message).to.contain('1024 bytes');
    } finally {
      await small.stop();
    }
  });
});
