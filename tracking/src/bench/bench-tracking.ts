/**
 * `npm run bench:tracking`: measures the tracking server over real HTTP keep-alive, with the server in
 * its own process (as in use). Figures are noisy on shared machines: compare ratios, not absolutes.
 * Prints a final line:
 *   bench:tracking log_batch_metrics_s=<n> log_metric_p50_ms=<n> search_p50_ms=<n> history_100k_ms=<n> runs_page_ms=<n>
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../store/sqlite-store.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10_000);
const PARAMS_PER_RUN = 20;
const METRICS_PER_RUN = 10;
const HISTORY_POINTS = 100_000;

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

function http(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const url = new URL(path, base);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, hostname: url.hostname, port: url.port, method, path: url.pathname + url.search, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((res.statusCode ?? 0) >= 400) reject(new Error(`${method} ${path} → ${res.statusCode}: ${text.slice(0, 300)}`));
          else resolve({ status: res.statusCode ?? 0, text });
        });
      },
    );
    req.on('error', reject);
    if (payload) req.write(payload);
    req.end();
  });
}

const api = (base: string, method: string, endpoint: string, body?: unknown) => http(base, method, `/api/2.0/mlflow/${endpoint}`, body);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const log = (line: string): void => console.log(line);

/** CPU time (user + system, ms) the server process has used so far, from /proc: wall times on a busy machine include waiting for a core. */
function serverCpuMs(pid: number | undefined): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return NaN;
  }
}
const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

async function startServer(dbPath: string, artifactsRoot: string): Promise<{ url: string; child: ChildProcess }> {
  const cli = join(__dirname, '..', 'server', 'cli.js');
  const child = spawn(process.execPath, [cli, '--port', '0', '--db', dbPath, '--artifacts-root', artifactsRoot], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, MLFLOW_TRACKING_TOKEN: '' } });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`tracking server exited (${code}): ${out}`)));
  });
  // Never leave the server behind, even if the benchmark dies.
  process.once('exit', () => child.kill('SIGKILL'));
  return { url, child };
}

/** Writes the 10,000-run experiment straight through the store (the server is benchmarked, not the seeding). */
async function seed(dbPath: string): Promise<string> {
  const store = new SqliteStore(dbPath);
  const expId = await store.createExperiment('bench-10k', undefined, []);
  const t0 = Date.now();
  const models = ['cnn-small', 'cnn-large', 'resnet', 'mlp'];
  // One transaction per 1,000 runs (the store's own transactions nest as savepoints): seeding is not measured.
  for (let r = 0; r < RUNS; r++) {
    if (r % 1000 === 0) store.db.exec('BEGIN');
    const run = await store.createRun({ experimentId: expId, userId: 'bench', runName: `run-${r}`, startTime: 1_700_000_000_000 + r, tags: [{ key: 'kind', value: r % 2 ? 'odd' : 'even' }] });
    await store.logBatch(run.info.run_id, {
      params: Array.from({ length: PARAMS_PER_RUN }, (_, p) => ({ key: `p${p}`, value: p === 0 ? models[r % 4]! : `v${(r * (p + 1)) % 10}` })),
      metrics: Array.from({ length: METRICS_PER_RUN }, (_, m) => ({ key: `m${m}`, value: ((r * 7919 + m * 104729) % 10007) / 10007, timestamp: 1, step: 0 })),
      tags: [],
    });
    if ((r + 1) % 1000 === 0 || r === RUNS - 1) store.db.exec('COMMIT');
    if ((r + 1) % 2000 === 0) log(`  seeded ${r + 1}/${RUNS} runs (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  await store.close();
  return expId;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-tracking-'));
  const dbPath = join(dir, 'tracking.db');
  let server: { url: string; child: ChildProcess } | undefined;
  try {
    log(`bench: seeding ${RUNS} runs × ${PARAMS_PER_RUN} params × ${METRICS_PER_RUN} metrics`);
    const bigExp = await seed(dbPath);
    server = await startServer(dbPath, join(dir, 'artifacts'));
    const base = server.url;
    log(`bench: server ${base} (separate process, HTTP keep-alive)`);

    // 1. log-batch throughput: 1000 metrics per request, 2 requests in flight.
    const runId = JSON.parse((await api(base, 'POST', 'runs/create', { experiment_id: '0' })).text).run.info.run_id as string;
    const batches = 200;
    let next = 0;
    const batchBody = (b: number) => ({ run_id: runId, metrics: Array.from({ length: 1000 }, (_, i) => ({ key: `k${i % 10}`, value: Math.random(), timestamp: 1_700_000_000_000 + b, step: b * 100 + Math.floor(i / 10) })) });
    for (let w = 0; w < 5; w++) await api(base, 'POST', 'runs/log-batch', batchBody(-1 - w)); // warm-up
    const bodies = Array.from({ length: batches }, (_, b) => batchBody(b));
    const pid = server.child.pid;
    let cpu0 = serverCpuMs(pid);
    const batchMs = await timeIt(() =>
      Promise.all(
        [0, 1].map(async () => {
          while (next < batches) await api(base, 'POST', 'runs/log-batch', bodies[next++]);
        }),
      ),
    );
    const logBatchMetricsS = Math.round((batches * 1000) / (batchMs / 1000));
    log(`log-batch: ${batches} × 1000 metrics in ${batchMs.toFixed(0)} ms → ${logBatchMetricsS} metrics/s (server CPU ${((serverCpuMs(pid) - cpu0) / batches).toFixed(2)} ms per batch)`);

    // 2. single log-metric latency, sequential.
    const singles: number[] = [];
    cpu0 = serverCpuMs(pid);
    for (let i = 0; i < 2200; i++) {
      const ms = await timeIt(() => api(base, 'POST', 'runs/log-metric', { run_id: runId, key: 'single', value: i, timestamp: Date.now(), step: i }));
      if (i >= 200) singles.push(ms);
    }
    const logMetricP50 = percentile(singles, 50);
    log(`log-metric: p50 ${logMetricP50.toFixed(2)} ms, p99 ${percentile(singles, 99).toFixed(2)} ms over ${singles.length} calls, server CPU ${((serverCpuMs(pid) - cpu0) / 2200).toFixed(2)} ms per call (MLflow users report ~90 ms per call: 1,000 calls in 90 s)`);

    // 3. runs/search on the 10,000-run experiment, filtered and ordered.
    const searchBody = { experiment_ids: [bigExp], filter: "metrics.m0 > 0.5 and params.p0 = 'cnn-large' and tags.kind = 'odd'", order_by: ['metrics.m1 DESC'], max_results: 100 };
    const searches: number[] = [];
    let found = 0;
    cpu0 = serverCpuMs(pid);
    for (let i = 0; i < 25; i++) {
      const ms = await timeIt(async () => {
        found = (JSON.parse((await api(base, 'POST', 'runs/search', searchBody)).text).runs ?? []).length;
      });
      if (i >= 5) searches.push(ms);
    }
    const searchP50 = percentile(searches, 50);
    log(`runs/search (${RUNS} runs, filter on metric+param+tag, order by metric, page of ${found}): p50 ${searchP50.toFixed(1)} ms, p99 ${percentile(searches, 99).toFixed(1)} ms, server CPU ${((serverCpuMs(pid) - cpu0) / 25).toFixed(1)} ms per search`);

    // 4. get-history of a 100,000-point metric.
    const histRun = JSON.parse((await api(base, 'POST', 'runs/create', { experiment_id: '0' })).text).run.info.run_id as string;
    for (let b = 0; b < HISTORY_POINTS / 1000; b++) {
      await api(base, 'POST', 'runs/log-batch', { run_id: histRun, metrics: Array.from({ length: 1000 }, (_, i) => ({ key: 'curve', value: Math.sin((b * 1000 + i) / 1000), timestamp: 1_700_000_000_000 + b * 1000 + i, step: b * 1000 + i })) });
    }
    // Time to the last byte of the answer (what the server controls), and separately this client's JSON.parse.
    const histories: number[] = [];
    const parses: number[] = [];
    let points = 0;
    let bytes = 0;
    cpu0 = serverCpuMs(pid);
    for (let i = 0; i < 7; i++) {
      let text = '';
      const ms = await timeIt(async () => {
        text = (await api(base, 'GET', `metrics/get-history?run_id=${histRun}&metric_key=curve`)).text;
      });
      const parseMs = await timeIt(async () => {
        points = (JSON.parse(text) as { metrics: unknown[] }).metrics.length;
      });
      bytes = text.length;
      if (i >= 2) {
        histories.push(ms);
        parses.push(parseMs);
      }
    }
    const historyMs = percentile(histories, 50);
    log(
      `get-history: ${points} points (${(bytes / 1e6).toFixed(1)} MB) answered in ${historyMs.toFixed(1)} ms (p50, to the last byte), JSON.parse here ${percentile(parses, 50).toFixed(1)} ms more, server CPU ${((serverCpuMs(pid) - cpu0) / 7).toFixed(1)} ms per call`,
    );

    // 5. the UI's runs page at 10,000 runs: its HTML, experiments/get and the first page of runs/search.
    const pages: number[] = [];
    cpu0 = serverCpuMs(pid);
    for (let i = 0; i < 25; i++) {
      const ms = await timeIt(() =>
        Promise.all([
          http(base, 'GET', '/'),
          http(base, 'GET', `/ajax-api/2.0/mlflow/experiments/get?experiment_id=${bigExp}`),
          http(base, 'POST', '/ajax-api/2.0/mlflow/runs/search', { experiment_ids: [bigExp], run_view_type: 'ACTIVE_ONLY', max_results: 100, order_by: ['attributes.start_time DESC'] }),
        ]),
      );
      if (i >= 5) pages.push(ms);
    }
    const runsPageMs = percentile(pages, 50);
    log(`runs page (${RUNS} runs; HTML + experiments/get + first 100 runs): p50 ${runsPageMs.toFixed(1)} ms, server CPU ${((serverCpuMs(pid) - cpu0) / 25).toFixed(1)} ms per page`);
    log(`machine load average (1 min): ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`);

    log(`targets: log-batch ≥ 50,000 metrics/s; log-metric p50 < 2 ms; search < 100 ms; 100k history < 200 ms`);
    log(
      `bench:tracking log_batch_metrics_s=${logBatchMetricsS} log_metric_p50_ms=${round(logMetricP50)} search_p50_ms=${round(searchP50, 1)} history_100k_ms=${round(historyMs, 1)} runs_page_ms=${round(runsPageMs, 1)}`,
    );
  } finally {
    agent.destroy();
    if (server && server.child.exitCode === null) {
      const exited = once(server.child, 'exit');
      server.child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:tracking failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
