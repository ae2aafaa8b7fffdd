/**
 * Test data for the UI tests, written through the server's MLflow REST API as a client would:
 * experiments, runs with params and metrics (one metric with 100,000 points), artifacts including a
 * PNG, and a registered model with two versions, a version tag and an alias.
 */
import { crc32, deflateSync } from 'node:zlib';

const JSON_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json' };

export class RestClient {
  constructor(readonly baseUrl: string) {}

  async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', endpoint: string, body?: Record<string, unknown>): Promise<T> {
    let url = `${this.baseUrl}/api/2.0/mlflow/${endpoint}`;
    const init: RequestInit = { method, headers: JSON_HEADERS };
    if (method === 'GET' && body) url += `?${new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)])).toString()}`;
    else if (body) init.body = JSON.stringify(body);
    const res = await fetch(url, init);
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${endpoint} → HTTP ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Uploads one artifact through the proxy, at the run's artifact_uri (mlflow-artifacts:/...). */
  async putArtifact(artifactUri: string, relPath: string, content: Buffer | string): Promise<void> {
    const base = artifactUri.replace(/^mlflow-artifacts:(\/\/[^/]*)?\//, '');
    const url = `${this.baseUrl}/api/2.0/mlflow-artifacts/artifacts/${[...base.split('/'), ...relPath.split('/')].filter(Boolean).map(encodeURIComponent).join('/')}`;
    const res = await fetch(url, { method: 'PUT', body: new Uint8Array(typeof content === 'string' ? Buffer.from(content) : content) });
    if (!res.ok) throw new Error(`PUT ${relPath} → HTTP ${res.status}: ${await res.text()}`);
  }
}

/** A small RGB PNG drawn by `pixel`, encoded here so the test needs no image library. */
export function makePng(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const stride = width * 3 + 1;
  const raw = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    raw[y * stride] = 0; // filter type "none"
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw.writeUInt8(r, y * stride + 1 + x * 3);
      raw.writeUInt8(g, y * stride + 2 + x * 3);
      raw.writeUInt8(b, y * stride + 3 + x * 3);
    }
  }
  const chunk = (type: string, data: Buffer): Buffer => {
    const typed = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(typed));
    return Buffer.concat([len, typed, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

interface RunSpec {
  name: string;
  params: Record<string, string>;
  accuracy: number;
  /** Points logged for "loss" (steps 0..n-1). */
  lossPoints: number;
}

export interface CreatedRun { runId: string; name: string; artifactUri: string; accuracy: number; params: Record<string, string>; lossPoints: number; startTime: number }

export interface UiFixture {
  experimentId: string;
  experimentName: string;
  emptyExperimentId: string;
  xssExperimentName: string;
  runs: { baseline: CreatedRun; improved: CreatedRun; quick: CreatedRun };
  modelName: string;
  pngSize: { width: number; height: number };
}

export const BIG_METRIC_POINTS = 100_000;

/** A deterministic, decaying training curve. */
function lossAt(step: number, total: number, scale: number): number {
  return scale * Math.exp((-3 * step) / total) + 0.02 * Math.sin(step / 50);
}

async function createRun(client: RestClient, experimentId: string, spec: RunSpec, startTime: number): Promise<CreatedRun> {
  const { run } = await client.call<{ run: { info: { run_id: string; artifact_uri: string } } }>('POST', 'runs/create', {
    experiment_id: experimentId, run_name: spec.name, start_time: startTime,
    tags: [{ key: 'mlflow.source.name', value: 'data-science/train.ipynb' }, { key: 'purpose', value: 'ui-test' }],
  });
  const runId = run.info.run_id;
  await client.call('POST', 'runs/log-batch', {
    run_id: runId,
    params: Object.entries(spec.params).map(([key, value]) => ({ key, value })),
    metrics: [{ key: 'accuracy', value: spec.accuracy, timestamp: startTime + 1000, step: 0 }],
  });
  // Loss history through log-batch in MLflow's largest batches (1000 metrics), four requests at a time.
  const batches: Array<Array<{ key: string; value: number; timestamp: number; step: number }>> = [];
  for (let start = 0; start < spec.lossPoints; start += 1000) {
    const batch = [];
    for (let step = start; step < Math.min(start + 1000, spec.lossPoints); step++) {
      batch.push({ key: 'loss', value: lossAt(step, spec.lossPoints, spec.name.length / 10), timestamp: startTime + step * 10, step });
    }
    batches.push(batch);
  }
  for (let i = 0; i < batches.length; i += 4) {
    await Promise.all(batches.slice(i, i + 4).map((metrics) => client.call('POST', 'runs/log-batch', { run_id: runId, metrics })));
  }
  await client.call('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: startTime + Math.max(spec.lossPoints, 1) * 10 });
  return { runId, name: spec.name, artifactUri: run.info.artifact_uri, accuracy: spec.accuracy, params: spec.params, lossPoints: spec.lossPoints, startTime };
}

export async function populate(baseUrl: string): Promise<UiFixture> {
  const client = new RestClient(baseUrl);
  const experimentName = 'ring-count-cnn';
  const xssExperimentName = '<img src=x onerror="window.__xss=1">';
  const { experiment_id: experimentId } = await client.call<{ experiment_id: string }>('POST', 'experiments/create', { name: experimentName });
  const { experiment_id: emptyExperimentId } = await client.call<{ experiment_id: string }>('POST', 'experiments/create', { name: 'empty-experiment' });
  await client.call('POST', 'experiments/create', { name: xssExperimentName });

  const t0 = Date.UTC(2026, 10, 20, 9, 0, 0);
  const baseline = await createRun(client, experimentId, {
    name: 'baseline-v1', params: { lr: '0.01', optimizer: 'sgd', epochs: '3', batch_size: '32' }, accuracy: 0.81, lossPoints: 300,
  }, t0);
  const improved = await createRun(client, experimentId, {
    name: 'improved-v2', params: { lr: '0.001', optimizer: 'adam', epochs: '5', batch_size: '32' }, accuracy: 0.93, lossPoints: BIG_METRIC_POINTS,
  }, t0 + 3_600_000);
  const quick = await createRun(client, experimentId, {
    name: 'quick-test', params: { lr: '0.1', optimizer: 'sgd', epochs: '1', batch_size: '32' }, accuracy: 0.42, lossPoints: 50,
  }, t0 + 7_200_000);

  const pngSize = { width: 48, height: 32 };
  await client.putArtifact(improved.artifactUri, 'plots/confusion.png',
    makePng(pngSize.width, pngSize.height, (x, y) => [Math.round((x / pngSize.width) * 255), 80, Math.round((y / pngSize.height) * 255)]));
  await client.putArtifact(improved.artifactUri, 'metrics.json', JSON.stringify({ accuracy: 0.93, classes: [0, 1, 2, 3] }));
  await client.putArtifact(improved.artifactUri, 'data/predictions.csv', 'smiles,true_rings,predicted\nc1ccccc1,1,1\n"C1CC1,weird",1,2\n');
  await client.putArtifact(improved.artifactUri, 'notes.md', '# Notes\n<script>window.__xss=2</script> stays text.\n');

  const modelName = 'ring-counter';
  await client.call('POST', 'registered-models/create', { name: modelName, description: 'Counts rings in 2-D depictions.' });
  for (const run of [baseline, improved]) {
    await client.call('POST', 'model-versions/create', { name: modelName, source: `${run.artifactUri}/model`, run_id: run.runId });
  }
  await client.call('POST', 'model-versions/set-tag', { name: modelName, version: '2', key: 'validation', value: 'passed' });
  await client.call('POST', 'registered-models/alias', { name: modelName, alias: 'champion', version: '2' });

  return { experimentId, experimentName, emptyExperimentId, xssExperimentName, runs: { baseline, improved, quick }, modelName, pngSize };
}
