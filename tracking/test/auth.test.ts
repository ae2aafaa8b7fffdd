/** Optional bearer token: every mutating request needs it, reads and searches stay open. */
import { expect } from 'chai';
import { startTestServer, type TestServer } from './helpers.js';

describe('tracking API: bearer token', function () {
  let s: TestServer;
  const auth = { authorization: 'Bearer s3cret' };
  before(async () => {
    s = await startTestServer({ token: 's3cret' });
  });
  after(async () => {
    await s.stop();
  });

  it('refuses writes without the token, or with a wrong one, with 401 UNAUTHENTICATED', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong' }, { authorization: 's3cret' }]) {
      const res = await s.api('POST', 'experiments/create', { name: 'x' }, headers);
      expect(res.status).to.equal(401);
      expect(res.body.error_code).to.equal('UNAUTHENTICATED');
      expect(res.body.message).to.contain('MLFLOW_TRACKING_TOKEN');
    }
    const put = await fetch(`${s.url}/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/a.txt`, { method: 'PUT', body: 'hi' });
    expect(put.status).to.equal(401);
    const del = await s.api('DELETE', 'registered-models/delete', { name: 'x' });
    expect(del.status).to.equal(401);
    expect((await s.api('GET', 'experiments/get-by-name', { experiment_name: 'x' })).status).to.equal(404);
  });

  it('accepts writes with the token and keeps reads and searches open', async () => {
    const created = await s.api('POST', 'experiments/create', { name: 'with-token' }, auth);
    expect(created.status).to.equal(200);
    expect((await s.api('GET', 'experiments/get', { experiment_id: created.body.experiment_id })).status).to.equal(200);
    expect((await s.api('POST', 'experiments/search', {})).status).to.equal(200);
    expect((await s.api('POST', 'runs/search', { experiment_ids: ['0'] })).status).to.equal(200);
    const put = await fetch(`${s.url}/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/a.txt`, { method: 'PUT', body: 'hi', headers: auth });
    expect(put.status).to.equal(200);
    expect(await (await fetch(`${s.url}/api/2.0/mlflow-artifacts/artifacts/0/x/artifacts/a.txt`)).text()).to.equal('hi');
  });
});
