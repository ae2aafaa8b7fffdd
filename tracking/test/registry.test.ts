/** Model registry: registered models, versions, stages, aliases and tags, with MLflow's shapes and errors. */
import { expect } from 'chai';
import { startTestServer, type TestServer } from './helpers.js';

describe('tracking API: model registry', function () {
  let s: TestServer;
  let runId: string;
  before(async () => {
    s = await startTestServer();
    runId = (await s.api('POST', 'runs/create', { experiment_id: '0' })).body.run.info.run_id;
  });
  after(async () => {
    await s.stop();
  });

  const createVersion = async (name: string, extra: Record<string, unknown> = {}) => {
    const res = await s.api('POST', 'model-versions/create', { name, source: `mlflow-artifacts:/0/${runId}/artifacts/model`, run_id: runId, ...extra });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body.model_version;
  };

  it('creates a registered model and answers its MLflow shape', async () => {
    const res = await s.api('POST', 'registered-models/create', { name: 'rings', description: 'ring counter', tags: [{ key: 'task', value: 'count' }] });
    expect(res.status).to.equal(200);
    expect(res.body.registered_model).to.include({ name: 'rings', description: 'ring counter' });
    expect(res.body.registered_model.tags).to.deep.equal([{ key: 'task', value: 'count' }]);
    expect(res.body.registered_model.creation_timestamp).to.be.a('number');
    const dup = await s.api('POST', 'registered-models/create', { name: 'rings' });
    expect(dup.status).to.equal(400);
    expect(dup.body.error_code).to.equal('RESOURCE_ALREADY_EXISTS');
    const missing = await s.api('GET', 'registered-models/get', { name: 'nope' });
    expect(missing.status).to.equal(404);
    expect(missing.body).to.deep.equal({ error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'Registered Model with name=nope not found' });
  });

  it('creates READY versions numbered 1, 2, … with tags and source', async () => {
    const v1 = await createVersion('rings', { tags: [{ key: 'val_acc', value: '0.91' }], description: 'first' });
    expect(v1).to.include({ name: 'rings', version: '1', status: 'READY', current_stage: 'None', run_id: runId, description: 'first' });
    expect(v1.source).to.equal(`mlflow-artifacts:/0/${runId}/artifacts/model`);
    expect(v1.tags).to.deep.equal([{ key: 'val_acc', value: '0.91' }]);
    const v2 = await createVersion('rings');
    expect(v2.version).to.equal('2');
    const noModel = await s.api('POST', 'model-versions/create', { name: 'ghost', source: 'x' });
    expect(noModel.status).to.equal(404);
    const noSource = await s.api('POST', 'model-versions/create', { name: 'rings' });
    expect(noSource.status).to.equal(400);
    const got = await s.api('GET', 'model-versions/get', { name: 'rings', version: '1' });
    expect(got.body.model_version.version).to.equal('1');
    const missing = await s.api('GET', 'model-versions/get', { name: 'rings', version: '99' });
    expect(missing.status).to.equal(404);
    expect(missing.body.message).to.equal('Model Version (name=rings, version=99) not found');
    const download = await s.api('GET', 'model-versions/get-download-uri', { name: 'rings', version: '1' });
    expect(download.body).to.deep.equal({ artifact_uri: `mlflow-artifacts:/0/${runId}/artifacts/model` });
  });

  it('resolves runs:/ sources in get-download-uri', async () => {
    const mv = await createVersion('rings', { source: `runs:/${runId}/model` });
    const download = await s.api('GET', 'model-versions/get-download-uri', { name: 'rings', version: mv.version });
    expect(download.body.artifact_uri).to.equal(`mlflow-artifacts:/0/${runId}/artifacts/model`);
    await s.api('DELETE', 'model-versions/delete', { name: 'rings', version: mv.version });
  });

  it('sets, moves, reads and deletes aliases', async () => {
    expect((await s.api('POST', 'registered-models/alias', { name: 'rings', alias: 'champion', version: '1' })).body).to.deep.equal({});
    let byAlias = await s.api('GET', 'registered-models/alias', { name: 'rings', alias: 'champion' });
    expect(byAlias.body.model_version).to.include({ version: '1' });
    expect(byAlias.body.model_version.aliases).to.deep.equal(['champion']);
    await s.api('POST', 'registered-models/alias', { name: 'rings', alias: 'champion', version: '2' });
    byAlias = await s.api('GET', 'registered-models/alias', { name: 'rings', alias: 'champion' });
    expect(byAlias.body.model_version.version).to.equal('2');
    const model = (await s.api('GET', 'registered-models/get', { name: 'rings' })).body.registered_model;
    expect(model.aliases).to.deep.equal([{ alias: 'champion', version: '2' }]);
    expect((await s.api('GET', 'model-versions/get', { name: 'rings', version: '1' })).body.model_version.aliases).to.deep.equal([]);

    const reserved = await s.api('POST', 'registered-models/alias', { name: 'rings', alias: 'v3', version: '1' });
    expect(reserved.status).to.equal(400);
    expect(reserved.body.message).to.contain('reserved');
    const badVersion = await s.api('POST', 'registered-models/alias', { name: 'rings', alias: 'x', version: '77' });
    expect(badVersion.status).to.equal(404);
    const unknownAlias = await s.api('GET', 'registered-models/alias', { name: 'rings', alias: 'nobody' });
    expect(unknownAlias.status).to.equal(404);
    expect(unknownAlias.body.error_code).to.equal('RESOURCE_DOES_NOT_EXIST');

    await s.api('POST', 'registered-models/alias', { name: 'rings', alias: 'challenger', version: '1' });
    expect((await s.api('DELETE', 'registered-models/alias', { name: 'rings', alias: 'challenger' })).status).to.equal(200);
    expect((await s.api('GET', 'registered-models/alias', { name: 'rings', alias: 'challenger' })).status).to.equal(404);
    expect((await s.api('DELETE', 'registered-models/alias', { name: 'rings', alias: 'challenger' })).status).to.equal(404);
  });

  it('transitions stages, archiving existing versions, and reports latest versions per stage', async () => {
    const prod = await s.api('POST', 'model-versions/transition-stage', { name: 'rings', version: '1', stage: 'production', archive_existing_versions: false });
    expect(prod.body.model_version.current_stage).to.equal('Production');
    await s.api('POST', 'model-versions/transition-stage', { name: 'rings', version: '2', stage: 'Production', archive_existing_versions: true });
    expect((await s.api('GET', 'model-versions/get', { name: 'rings', version: '1' })).body.model_version.current_stage).to.equal('Archived');
    const latest = await s.api('POST', 'registered-models/get-latest-versions', { name: 'rings', stages: ['Production'] });
    expect(latest.body.model_versions.map((v: { version: string }) => v.version)).to.deep.equal(['2']);
    const all = await s.api('GET', 'registered-models/get-latest-versions', { name: 'rings' });
    expect(all.body.model_versions.map((v: { current_stage: string }) => v.current_stage).sort()).to.deep.equal(['Archived', 'Production']);
    const bad = await s.api('POST', 'model-versions/transition-stage', { name: 'rings', version: '1', stage: 'Live' });
    expect(bad.status).to.equal(400);
    expect(bad.body.message).to.contain('Invalid Model Version stage');
  });

  it('updates, tags and searches versions and models', async () => {
    const upd = await s.api('PATCH', 'model-versions/update', { name: 'rings', version: '2', description: 'best so far' });
    expect(upd.body.model_version.description).to.equal('best so far');
    await s.api('POST', 'model-versions/set-tag', { name: 'rings', version: '2', key: 'approved', value: 'yes' });
    expect((await s.api('GET', 'model-versions/get', { name: 'rings', version: '2' })).body.model_version.tags).to.deep.include({ key: 'approved', value: 'yes' });
    const found = await s.api('GET', 'model-versions/search', { filter: "name = 'rings' and tags.approved = 'yes'" });
    expect(found.body.model_versions.map((v: { version: string }) => v.version)).to.deep.equal(['2']);
    const byRun = await s.api('GET', 'model-versions/search', { filter: `run_id = '${runId}'`, order_by: ['version_number ASC'] });
    expect(byRun.body.model_versions.map((v: { version: string }) => v.version)).to.deep.equal(['1', '2']);
    const paged = await s.api('GET', 'model-versions/search', { filter: "name = 'rings'", max_results: 1 });
    expect(paged.body.model_versions).to.have.length(1);
    expect(paged.body.next_page_token).to.be.a('string');
    await s.api('DELETE', 'model-versions/delete-tag', { name: 'rings', version: '2', key: 'approved' });
    expect((await s.api('DELETE', 'model-versions/delete-tag', { name: 'rings', version: '2', key: 'approved' })).status).to.equal(404);

    const updModel = await s.api('PATCH', 'registered-models/update', { name: 'rings', description: 'v2' });
    expect(updModel.body.registered_model.description).to.equal('v2');
    await s.api('POST', 'registered-models/set-tag', { name: 'rings', key: 'owner', value: 'ds' });
    await s.api('POST', 'registered-models/create', { name: 'other' });
    const models = await s.api('GET', 'registered-models/search', { filter: "name LIKE 'ri%'" });
    expect(models.body.registered_models.map((m: { name: string }) => m.name)).to.deep.equal(['rings']);
    expect(models.body.registered_models[0].latest_versions.length).to.be.greaterThan(0);
    const byTag = await s.api('GET', 'registered-models/search', { filter: "tags.owner = 'ds'" });
    expect(byTag.body.registered_models).to.have.length(1);
    await s.api('DELETE', 'registered-models/delete-tag', { name: 'rings', key: 'owner' });
    const badFilter = await s.api('GET', 'registered-models/search', { filter: "run_id = 'x'" });
    expect(badFilter.status).to.equal(400);
  });

  it('renames a model with its versions and aliases, then deletes versions and models', async () => {
    const renamed = await s.api('POST', 'registered-models/rename', { name: 'rings', new_name: 'rings-v2' });
    expect(renamed.body.registered_model.name).to.equal('rings-v2');
    expect((await s.api('GET', 'registered-models/alias', { name: 'rings-v2', alias: 'champion' })).body.model_version.version).to.equal('2');
    expect((await s.api('GET', 'registered-models/get', { name: 'rings' })).status).to.equal(404);
    const clash = await s.api('POST', 'registered-models/rename', { name: 'rings-v2', new_name: 'other' });
    expect(clash.body.error_code).to.equal('RESOURCE_ALREADY_EXISTS');

    await s.api('DELETE', 'model-versions/delete', { name: 'rings-v2', version: '2' });
    expect((await s.api('GET', 'model-versions/get', { name: 'rings-v2', version: '2' })).status).to.equal(404);
    expect((await s.api('GET', 'registered-models/alias', { name: 'rings-v2', alias: 'champion' })).status).to.equal(404);
    // Version numbers are never reused.
    expect((await createVersion('rings-v2')).version).to.equal('4');

    expect((await s.api('DELETE', 'registered-models/delete', { name: 'rings-v2' })).status).to.equal(200);
    expect((await s.api('GET', 'registered-models/get', { name: 'rings-v2' })).status).to.equal(404);
    expect((await s.api('GET', 'model-versions/search', { filter: "name = 'rings-v2'" })).body.model_versions).to.deep.equal([]);
  });

  it('publishes registry changes on the long-poll event feed', async () => {
    await s.api('POST', 'registered-models/create', { name: 'feed' });
    await createVersion('feed');
    const start = (await s.api('GET', '/api/2.0/ringcount/events')).body;
    expect(start.last_seq).to.be.a('number');
    const waiting = s.api('GET', `/api/2.0/ringcount/events?after=${start.last_seq}&timeout_ms=30000`);
    await s.api('POST', 'registered-models/alias', { name: 'feed', alias: 'champion', version: '1' });
    const answered = (await waiting).body;
    expect(answered.events[0]).to.include({ type: 'alias_set', name: 'feed', alias: 'champion', version: '1' });
    expect(answered.last_seq).to.equal(start.last_seq + 1);
  });
});
