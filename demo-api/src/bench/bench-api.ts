#!/usr/bin/env node
/**
 * `npm run bench:api`: the anchors' closed-loop load generator (../shared/anchors/load.mjs: C clients
 * POSTing a 300×300 PNG for D seconds) against this API serving the reference CNN at 128×128 (the
 * anchor's architecture, random weights), and in the same run against the FastAPI + PyTorch anchor when
 * Debian's packages are installed. Prints both and their ratios, then one summary line.
 */
import { startTrackingServer } from '@ringcount/tracking';
import { selectBackend } from '@ringcount/model-core';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEMO_API_ROOT } from '../config.js';
import { registerModelDir, ringImage, saveFixtureModel, setAlias } from '../testing/fixtures.js';

const ANCHORS = path.resolve(DEMO_API_ROOT, '..', '..', 'shared', 'anchors');
const PYTHON = '/usr/bin/python3';

interface LoadResult {
  ok: number;
  failed: number;
  req_s: number;
  p50_ms: number;
  p99_ms: number;
  /** CPU time the server process (all its threads) spent per successful request: robust to a busy machine. */
  cpu_ms_per_req?: number;
}

/** User + system CPU seconds a process has used so far (Linux /proc), or undefined elsewhere. */
async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

/** Runs the load against a server process and adds its CPU cost per request. */
async function measure(pid: number | undefined, url: string, image: string, clients: number, seconds: number): Promise<LoadResult> {
  const before = await cpuSeconds(pid);
  const r = await runLoad(url, image, clients, seconds);
  const after = await cpuSeconds(pid);
  if (before !== undefined && after !== undefined && r.ok > 0) r.cpu_ms_per_req = Number((((after - before) * 1000) / r.ok).toFixed(2));
  return r;
}

/** Mean dynamic batch size a prediction ran in, from the API's own metrics. */
async function meanBatch(port: number): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const sum = Number(/^ringcount_inference_batch_size_sum (\S+)/m.exec(text)?.[1]);
  const count = Number(/^ringcount_inference_batch_size_count (\S+)/m.exec(text)?.[1]);
  return count > 0 ? ` mean_batch=${(sum / count).toFixed(1)}` : '';
}

const cpuText = (r: LoadResult): string => (r.cpu_ms_per_req === undefined ? '' : ` cpu_ms_per_req=${r.cpu_ms_per_req}`);

const log = (line: string): void => console.log(`bench:api ${line}`);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/** Runs the anchors' load generator as its own process, so it never shares a thread with a server. */
async function runLoad(url: string, image: string, clients: number, seconds: number): Promise<LoadResult> {
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(ANCHORS, 'load.mjs'), url, image, String(clients), String(seconds)], {
    timeout: (seconds + 60) * 1000,
  });
  const fields = Object.fromEntries([...stdout.matchAll(/(\w+)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
  if (fields.req_s === undefined) throw new Error(`load.mjs printed no figures: ${stdout}`);
  return fields as unknown as LoadResult;
}

async function waitFor(url: string, init: () => RequestInit, child: ChildProcess, what: string, timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (child.exitCode !== null) throw new Error(`${what} exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(url, { ...init(), signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} was not ready after ${timeoutMs / 1000} s`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
}

async function anchorAvailable(): Promise<boolean> {
  if (!existsSync(PYTHON) || !existsSync(path.join(ANCHORS, 'fastapi_torch_server.py'))) return false;
  try {
    await promisify(execFile)(PYTHON, ['-c', 'import fastapi, torch, uvicorn, multipart, PIL'], { timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

function upload(png: Buffer): () => RequestInit {
  return () => {
    const fd = new FormData();
    fd.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'x.png');
    return { method: 'POST', body: fd };
  };
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('clients', { type: 'number', default: 16 })
    .option('duration', { type: 'number', default: 10, describe: 'Seconds of measured load per server' })
    .option('warmup', { type: 'number', default: 2, describe: 'Seconds of unmeasured load first' })
    .option('engines', { type: 'string', default: 'workers,in-process', describe: 'API variants to measure, each "<engine>[:<workers>[:<max-wait-ms>]]"; the first is the summary line' })
    .option('anchor', { type: 'boolean', default: true, describe: 'Also measure the FastAPI + PyTorch anchor' })
    .strict()
    .help()
    .parse();
  const engines = argv.engines.split(',').map((e) => e.trim()).filter(Boolean);
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'bench-api-'));
  const children: ChildProcess[] = [];
  const tracking = await startTrackingServer({ port: 0, dbPath: path.join(tmp, 'tracking.db'), artifactsRoot: path.join(tmp, 'artifacts'), log: () => undefined });
  try {
    const png = await ringImage(3);
    const imagePath = path.join(tmp, 'compound.png');
    await writeFile(imagePath, png);

    log('registering the reference CNN (128×128, random weights) as ring-counter v1');
    await selectBackend();
    await saveFixtureModel(path.join(tmp, 'model'), { size: 128, versionLabel: 'v1', architecture: 'reference-cnn' });
    await setAlias(tracking.url, await registerModelDir(tracking.url, path.join(tmp, 'model'), { versionLabel: 'v1', experiment: 'bench-api' }));

    let anchor: LoadResult | undefined;
    if (argv.anchor && (await anchorAvailable())) {
      const port = await freePort();
      log(`anchor: FastAPI + PyTorch (uvicorn, 1 worker) on port ${port}`);
      const child = spawn(PYTHON, ['-m', 'uvicorn', 'fastapi_torch_server:app', '--port', String(port), '--workers', '1', '--log-level', 'warning'], { cwd: ANCHORS, stdio: 'ignore' });
      children.push(child);
      const url = `http://127.0.0.1:${port}/predict/`;
      await waitFor(url, upload(png), child, 'the anchor');
      if (argv.warmup > 0) await runLoad(url, imagePath, argv.clients, argv.warmup);
      anchor = await measure(child.pid, url, imagePath, argv.clients, argv.duration);
      log(`anchor  req_s=${anchor.req_s} p50_ms=${anchor.p50_ms} p99_ms=${anchor.p99_ms} ok=${anchor.ok} failed=${anchor.failed}${cpuText(anchor)}`);
      await stop(child);
    } else {
      log(`anchor skipped: needs ${PYTHON} with fastapi, torch, uvicorn, multipart and PIL (apt-get install python3-torch python3-fastapi python3-uvicorn python3-multipart python3-pil)`);
    }

    const results = new Map<string, LoadResult>();
    for (const engine of engines) {
      const port = await freePort();
      const [kind = 'workers', workers, maxWait] = engine.split(':');
      log(`demo-api (${engine}) on port ${port}`);
      const child = spawn(
        process.execPath,
        [path.join(DEMO_API_ROOT, 'dist', 'src', 'cli.js'), '--port', String(port), '--tracking-uri', tracking.url, '--cache-dir', path.join(tmp, `cache-${kind}-${workers ?? 'default'}`), '--engine', kind, ...(workers ? ['--workers', workers] : []), ...(maxWait ? ['--max-wait-ms', maxWait] : [])],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      children.push(child);
      const url = `http://127.0.0.1:${port}/predict/`;
      await waitFor(`http://127.0.0.1:${port}/ready`, () => ({}), child, `demo-api (${engine})`);
      if (argv.warmup > 0) await runLoad(url, imagePath, argv.clients, argv.warmup);
      const r = await measure(child.pid, url, imagePath, argv.clients, argv.duration);
      results.set(engine, r);
      let vs = anchor ? ` ratio_req_s=${(r.req_s / anchor.req_s).toFixed(2)} ratio_p99=${(r.p99_ms / anchor.p99_ms).toFixed(2)}` : '';
      if (anchor?.cpu_ms_per_req && r.cpu_ms_per_req) vs += ` ratio_cpu_per_req=${(r.cpu_ms_per_req / anchor.cpu_ms_per_req).toFixed(2)}`;
      log(`${engine}  req_s=${r.req_s} p50_ms=${r.p50_ms} p99_ms=${r.p99_ms} ok=${r.ok} failed=${r.failed}${cpuText(r)}${vs}${await meanBatch(port)}`);
      await stop(child);
    }

    const main = results.get(engines[0] ?? '');
    if (!main) throw new Error('no engine was measured');
    console.log(
      `bench:api req_s=${main.req_s} p50_ms=${main.p50_ms} p99_ms=${main.p99_ms} failed=${main.failed} ` +
        `anchor_req_s=${anchor?.req_s ?? 'NA'} anchor_p99_ms=${anchor?.p99_ms ?? 'NA'} ratio=${anchor ? (main.req_s / anchor.req_s).toFixed(2) : 'NA'}`,
    );
  } finally {
    await Promise.all(children.map(stop));
    await tracking.close();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:api failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
