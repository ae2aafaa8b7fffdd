/**
 * Reliability with real processes: ten client processes logging at once lose nothing; a server killed
 * with SIGKILL mid-logging keeps every write it acknowledged, and no log-batch is half applied.
 * Also the CLI's start-up message, port-in-use message and clean shutdown on SIGTERM.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, startTestServer, type TestServer } from './helpers.js';

const CLI = join(__dirname, '..', 'src', 'server', 'cli.js');

interface CliServer {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Starts `npm run tracking`'s program as a child process and waits for its "listening on" line. */
async function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliServer> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, MLFLOW_TRACKING_TOKEN: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const check = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  return { child, url, output: () => output };
}

describe('reliability: processes, SIGKILL and the CLI', function () {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tracking-durability-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loses nothing when ten client processes log at once', async () => {
    const s: TestServer = await startTestServer();
    try {
      const expId = (await s.api('POST', 'experiments/create', { name: 'concurrent' })).body.experiment_id as string;
      const shared = (await s.api('POST', 'runs/create', { experiment_id: expId, run_name: 'shared' })).body.run.info.run_id as string;
      const workers = 10;
      const points = 1500;
      const logger = join(__dirname, 'fixtures', 'logger.js');
      const children = Array.from({ length: workers }, (_, w) => spawn(process.execPath, [logger, s.url, expId, shared, String(w), String(points)], { stdio: ['ignore', 'pipe', 'pipe'] }));
      const results = await Promise.all(
        children.map(async (child) => {
          let out = '';
          child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
          const [code] = (await once(child, 'exit')) as [number];
          return { code, out };
        }),
      );
      for (const r of results) expect(r, r.out).to.deep.include({ code: 0 });

      const runs = await s.api('POST', 'runs/search', { experiment_ids: [expId], filter: "attributes.run_name LIKE 'worker-%'", max_results: 100 });
      expect(runs.body.runs).to.have.length(workers);
      for (const run of runs.body.runs) {
        expect(run.info.status).to.equal('FINISHED');
        const history = await s.api('GET', 'metrics/get-history', { run_id: run.info.run_id, metric_key: 'loss' });
        expect(history.body.metrics.map((m: { step: number }) => m.step)).to.deep.equal(Array.from({ length: points }, (_, i) => i));
      }
      const single = await s.api('GET', 'metrics/get-history', { run_id: shared, metric_key: 'shared_single' });
      expect(single.body.metrics).to.have.length(workers * 20);
      const batch = await s.api('GET', 'metrics/get-history', { run_id: shared, metric_key: 'shared_batch' });
      expect(batch.body.metrics).to.have.length(workers * 100);
      const sharedRun = (await s.api('GET', 'runs/get', { run_id: shared })).body.run;
      expect(sharedRun.data.params).to.have.length(workers);
      expect(sharedRun.data.tags.filter((t: { key: string }) => t.key.startsWith('tag_worker_'))).to.have.length(workers);
    } finally {
      await s.stop();
    }
  });

  it('keeps every acknowledged write after SIGKILL mid-logging, and no batch is half applied', async () => {
    const db = join(dir, 'kill.db');
    const art = join(dir, 'kill-artifacts');
    const first = await startCli(['--port', '0', '--db', db, '--artifacts-root', art]);
    const runId = (await call(first.url, 'POST', 'runs/create', { experiment_id: '0' })).body.run.info.run_id as string;
    const batchSize = 50;
    const ackedBatches: number[] = [];
    const ackedSingles: number[] = [];
    let sentBatches = 0;
    let killed = false;
    const killAfter = 120; // acknowledged requests, not time: the kill lands while loops are mid-flight

    const kill = (): void => {
      if (!killed && ackedBatches.length + ackedSingles.length >= killAfter) {
        killed = true;
        first.child.kill('SIGKILL');
      }
    };
    const batchLoop = async (): Promise<void> => {
      for (;;) {
        const id = sentBatches++;
        const metrics = Array.from({ length: batchSize }, (_, i) => ({ key: 'batched', value: id, timestamp: id, step: id * batchSize + i }));
        try {
          const res = await call(first.url, 'POST', 'runs/log-batch', { run_id: runId, metrics, params: [{ key: `p${id}`, value: 'v' }] });
          if (res.status !== 200) return;
        } catch {
          return; // the server is gone: this write was not acknowledged
        }
        ackedBatches.push(id);
        kill();
      }
    };
    const singleLoop = async (worker: number): Promise<void> => {
      for (let i = 0; ; i++) {
        const step = worker * 1_000_000 + i;
        try {
          const res = await call(first.url, 'POST', 'runs/log-metric', { run_id: runId, key: 'single', value: step, timestamp: 1, step });
          if (res.status !== 200) return;
        } catch {
          return;
        }
        ackedSingles.push(step);
        kill();
      }
    };
    await Promise.all([batchLoop(), batchLoop(), batchLoop(), singleLoop(0), singleLoop(1)]);
    if (first.child.exitCode === null && first.child.signalCode === null) await once(first.child, 'exit');
    expect(killed).to.equal(true);

    const second = await startCli(['--port', '0', '--db', db, '--artifacts-root', art]);
    try {
      const batched = (await call(second.url, 'GET', 'metrics/get-history', { run_id: runId, metric_key: 'batched' })).body.metrics as { step: number; value: number }[];
      const singles = new Set(((await call(second.url, 'GET', 'metrics/get-history', { run_id: runId, metric_key: 'single' })).body.metrics as { step: number }[]).map((m) => m.step));
      const params = new Set(((await call(second.url, 'GET', 'runs/get', { run_id: runId })).body.run.data.params as { key: string }[]).map((p) => p.key));
      const pointsPerBatch = new Map<number, number>();
      for (const m of batched) pointsPerBatch.set(m.value, (pointsPerBatch.get(m.value) ?? 0) + 1);
      for (const id of ackedBatches) {
        expect(pointsPerBatch.get(id), `acknowledged batch ${id}`).to.equal(batchSize);
        expect(params.has(`p${id}`)).to.equal(true);
      }
      for (const step of ackedSingles) expect(singles.has(step), `acknowledged log-metric step ${step}`).to.equal(true);
      // Whatever was in flight when the server died is either all there or not there at all.
      for (const [id, count] of pointsPerBatch) expect(count, `batch ${id}`).to.equal(batchSize);
      expect(ackedBatches.length + ackedSingles.length).to.be.at.least(killAfter);
    } finally {
      const exited = once(second.child, 'exit');
      second.child.kill('SIGTERM');
      await exited;
    }
  });

  it('prints its URL, names a port that is in use, and shuts down cleanly on SIGTERM and SIGINT', async () => {
    const db = join(dir, 'cli.db');
    const server = await startCli(['--port', '0', '--db', db, '--artifacts-root', join(dir, 'cli-art')]);
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await call(server.url, 'GET', '/health')).body).to.equal('OK');
    const port = new URL(server.url).port;

    const clash = spawn(process.execPath, [CLI, '--port', port, '--db', join(dir, 'other.db'), '--artifacts-root', join(dir, 'other-art')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let clashOut = '';
    clash.stderr!.on('data', (d: Buffer) => (clashOut += d.toString()));
    const [clashCode] = (await once(clash, 'exit')) as [number];
    expect(clashCode).to.equal(2);
    expect(clashOut).to.contain(`Port ${port}`);
    expect(clashOut).to.contain('already in use');

    const serverExit = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    const [code] = (await serverExit) as [number];
    expect(code).to.equal(0);
    expect(server.output()).to.contain('SIGTERM received');

    const again = await startCli(['--port', '0', '--db', db, '--artifacts-root', join(dir, 'cli-art')]);
    const againExit = once(again.child, 'exit');
    again.child.kill('SIGINT');
    expect(((await againExit) as [number])[0]).to.equal(0);

    const badPort = spawn(process.execPath, [CLI, '--port', '70000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let badOut = '';
    badPort.stderr!.on('data', (d: Buffer) => (badOut += d.toString()));
    const [badCode] = (await once(badPort, 'exit')) as [number];
    expect(badCode).to.not.equal(0);
    expect(badOut).to.contain('--port must be an integer');
  });
});
