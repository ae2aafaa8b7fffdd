/** runs/search: MLflow's filter grammar over metrics, params, tags and attributes, order_by and paging. */
import { expect } from 'chai';
import { parseFilter, parseOrderBy } from '../src/store/filter.js';
import { startTestServer, type TestServer } from './helpers.js';

describe('filter grammar', () => {
  it('parses entities, quoted keys, comparators and values', () => {
    expect(parseFilter("metrics.rmse < 1 and params.model_class = 'LogisticRegression'")).to.deep.equal([
      { entity: 'metric', key: 'rmse', comparator: '<', value: { kind: 'number', value: 1 } },
      { entity: 'param', key: 'model_class', comparator: '=', value: { kind: 'string', value: 'LogisticRegression' } },
    ]);
    expect(parseFilter('metrics."model class" >= -1.5e-3 AND tags.`user-name` != "Tomas"')).to.deep.equal([
      { entity: 'metric', key: 'model class', comparator: '>=', value: { kind: 'number', value: -0.0015 } },
      { entity: 'tag', key: 'user-name', comparator: '!=', value: { kind: 'string', value: 'Tomas' } },
    ]);
    expect(parseFilter("attributes.run_id IN ('a', 'b') and tags.x ILIKE '%y%' and status NOT IN ('FAILED')")).to.deep.equal([
      { entity: 'attribute', key: 'run_id', comparator: 'IN', value: { kind: 'list', value: ['a', 'b'] } },
      { entity: 'tag', key: 'x', comparator: 'ILIKE', value: { kind: 'string', value: '%y%' } },
      { entity: 'attribute', key: 'status', comparator: 'NOT IN', value: { kind: 'list', value: ['FAILED'] } },
    ]);
    expect(parseFilter('metrics.val.loss IS NULL and params.p IS NOT NULL').map((c) => [c.key, c.comparator])).to.deep.equal([
      ['val.loss', 'IS NULL'],
      ['p', 'IS NOT NULL'],
    ]);
    expect(parseFilter('  ')).to.deep.equal([]);
  });

  it('rejects what MLflow rejects, naming the problem', () => {
    expect(() => parseFilter("params.a = 'x' OR params.b = 'y'")).to.throw(/OR is not supported/);
    expect(() => parseFilter("foo.a = 'x'")).to.throw(/unknown entity type 'foo'/);
    expect(() => parseFilter("params.a = 'x")).to.throw(/unterminated quote/);
    expect(() => parseFilter('metrics.a >')).to.throw(/expected a value/);
    expect(() => parseFilter("params.a 'x'")).to.throw(/expected a comparator/);
    expect(() => parseFilter("params.a = 'x' and")).to.throw(/dangling AND/);
    expect(() => parseFilter("params.a IN 'x'")).to.throw(/parenthesised list/);
  });

  it('parses order_by clauses', () => {
    expect(parseOrderBy('metrics.rmse DESC')).to.deep.equal({ entity: 'metric', key: 'rmse', ascending: false });
    expect(parseOrderBy('attributes.start_time')).to.deep.equal({ entity: 'attribute', key: 'start_time', ascending: true });
    expect(parseOrderBy('params.`learning rate` asc')).to.deep.equal({ entity: 'param', key: 'learning rate', ascending: true });
  });
});

describe('tracking API: runs/search', function () {
  let s: TestServer;
  let expId: string;
  const runIds: string[] = [];
  before(async () => {
    s = await startTestServer();
    expId = (await s.api('POST', 'experiments/create', { name: 'search' })).body.experiment_id;
    // 12 runs: acc = i/10, lr alternates, odd runs tagged, run 11 has no acc metric.
    for (let i = 0; i < 12; i++) {
      const run = (await s.api('POST', 'runs/create', { experiment_id: expId, run_name: `run-${String(i).padStart(2, '0')}`, start_time: 1000 + i })).body.run;
      runIds.push(run.info.run_id);
      await s.api('POST', 'runs/log-batch', {
        run_id: run.info.run_id,
        metrics: i === 11 ? [] : [{ key: 'acc', value: i / 10, timestamp: 1, step: 0 }],
        params: [{ key: 'lr', value: i % 2 === 0 ? '0.1' : '0.01' }, { key: 'model', value: i < 6 ? 'CNN-small' : 'cnn-large' }],
        tags: i % 2 === 1 ? [{ key: 'kind', value: 'odd' }] : [],
      });
      if (i === 3) await s.api('POST', 'runs/update', { run_id: run.info.run_id, status: 'FAILED', end_time: 2000 });
    }
    await s.api('POST', 'runs/delete', { run_id: runIds[10] });
  });
  after(async () => {
    await s.stop();
  });

  const names = (body: { runs?: { info: { run_name: string } }[] }): string[] => (body.runs ?? []).map((r) => r.info.run_name);
  const search = async (body: Record<string, unknown>) => {
    const res = await s.api('POST', 'runs/search', { experiment_ids: [expId], ...body });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };

  it('defaults to active runs, newest first', async () => {
    const body = await search({});
    expect(names(body)).to.deep.equal(['run-11', 'run-09', 'run-08', 'run-07', 'run-06', 'run-05', 'run-04', 'run-03', 'run-02', 'run-01', 'run-00']);
    expect(body.runs[0].data.params).to.have.length(2);
    expect(names(await search({ run_view_type: 'DELETED_ONLY' }))).to.deep.equal(['run-10']);
    expect(names(await search({ run_view_type: 'ALL' }))).to.have.length(12);
  });

  it('filters by metric, param, tag and attribute together', async () => {
    expect(names(await search({ filter: "metrics.acc >= 0.5 and params.lr = '0.01' and tags.kind = 'odd'", order_by: ['metrics.acc ASC'] }))).to.deep.equal(['run-05', 'run-07', 'run-09']);
    expect(names(await search({ filter: "attributes.status = 'FAILED'" }))).to.deep.equal(['run-03']);
    expect(names(await search({ filter: "params.model LIKE 'cnn%'" })).sort()).to.deep.equal(['run-06', 'run-07', 'run-08', 'run-09', 'run-11']);
    expect(names(await search({ filter: "params.model ILIKE 'cnn%'" }))).to.have.length(11);
    expect(names(await search({ filter: 'metrics.acc IS NULL' }))).to.deep.equal(['run-11']);
    expect(names(await search({ filter: 'tags.kind IS NULL' })).every((n) => Number(n.slice(4)) % 2 === 0)).to.equal(true);
    expect(names(await search({ filter: 'metrics.acc != 0.2' }))).to.not.include('run-02');
    expect(names(await search({ filter: `attributes.run_id IN ('${runIds[0]}', '${runIds[1]}')` }))).to.deep.equal(['run-01', 'run-00']);
    expect(names(await search({ filter: "attributes.run_name = 'run-04'" }))).to.deep.equal(['run-04']);
    expect(names(await search({ filter: 'attributes.start_time > 1008' }))).to.deep.equal(['run-11', 'run-09']);
    expect(names(await search({ filter: 'metrics."acc" < 0.15' })).sort()).to.deep.equal(['run-00', 'run-01']);
  });

  it('orders by metric (missing last), param and attribute', async () => {
    const byAccDesc = names(await search({ order_by: ['metrics.acc DESC'] }));
    expect(byAccDesc.slice(0, 3)).to.deep.equal(['run-09', 'run-08', 'run-07']);
    expect(byAccDesc[byAccDesc.length - 1]).to.equal('run-11');
    const byAccAsc = names(await search({ order_by: ['metrics.acc'] }));
    expect(byAccAsc[0]).to.equal('run-00');
    expect(byAccAsc[byAccAsc.length - 1]).to.equal('run-11');
    expect(names(await search({ order_by: ['attributes.run_name ASC'] }))[0]).to.equal('run-00');
    const byParam = names(await search({ order_by: ['params.lr DESC', 'attributes.start_time ASC'] }));
    expect(byParam.slice(0, 2)).to.deep.equal(['run-00', 'run-02']);
  });

  it('pages with max_results and an opaque page_token, covering every run once', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const body = await search({ max_results: 5, order_by: ['metrics.acc DESC'], ...(token ? { page_token: token } : {}) });
      seen.push(...names(body));
      token = body.next_page_token;
      pages++;
    } while (token);
    expect(pages).to.equal(3);
    expect(new Set(seen).size).to.equal(11);
    expect(seen).to.deep.equal(names(await search({ order_by: ['metrics.acc DESC'] })));
  });

  it('rejects bad filters, order_by and arguments with INVALID_PARAMETER_VALUE', async () => {
    const bad = async (body: Record<string, unknown>, fragment: string) => {
      const res = await s.api('POST', 'runs/search', { experiment_ids: [expId], ...body });
      expect(res.status).to.equal(400);
      expect(res.body.error_code).to.equal('INVALID_PARAMETER_VALUE');
      expect(res.body.message).to.contain(fragment);
    };
    await bad({ filter: "metrics.acc > '0.5'" }, 'must be a number');
    await bad({ filter: 'params.lr = 0.1' }, 'quoted string');
    await bad({ filter: "attributes.colour = 'red'" }, "Invalid attribute key 'colour'");
    await bad({ filter: 'metrics.acc LIKE 1' }, 'Invalid comparator');
    await bad({ filter: "params.a = 'x' or params.b = 'y'" }, 'OR is not supported');
    await bad({ order_by: ['attributes.colour'] }, 'Invalid order_by attribute');
    await bad({ max_results: 0 }, 'max_results');
    await bad({ max_results: 50001 }, 'max_results');
    await bad({ page_token: 'garbage' }, 'page_token');
    await bad({ experiment_ids: ['abc'] }, 'experiment id');
    const none = await s.api('POST', 'runs/search', {});
    expect(none.status).to.equal(400);
    expect(none.body.message).to.contain('experiment_ids');
  });

  it('treats filter values as data, never SQL', async () => {
    const body = await search({ filter: "params.lr = '0.1'' OR 1=1 --'" });
    expect(body.runs ?? []).to.deep.equal([]);
  });
});
