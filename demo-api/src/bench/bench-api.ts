#!/usr/bin/env node
/**
 * `npm run bench:api`: the anchors' closed-loop load generator (../shared/anchors/load.mjs: C clients
 * POSTing a 300×300 PNG for D seconds) against this API serving the reference CNN at 128×128 (the
 * anchor's architecture, random weights), and in the same run against the FastAPI + PyTorch anchor when
 * Debian's packages are installed. All servers run side by side and are measured in turn, round after
 * round, so that a busy spell of a shared machine affects them alike; prints every round, the medians
 * and ratios, then one summary line (its ratio is the median of the rounds' ratios).
 */
import { startTrackingServer } from '@ringcount/tracking';
import { selectBackend } from '@ringcount/model-core';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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

/** The process and its descendants (the API's inference workers are child processes), from /proc. */
async function processTree(pid: number): Promise<number[]> {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    const tasks = await readdir(`/proc/${pids[i]}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const children = await readFile(`/proc/${pids[i]}/task/${task}/children`, 'utf8').catch(() => '');
      pids.push(...children.split(' ').filter(Boolean).map(Number));
    }
  }
  return pids;
}

/**
 * User + system CPU seconds a server has used so far, its child processes included (Linux /proc),
 * or undefined elsewhere.
 */
async function cpuSeconds(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  let total = 0;
  try {
    for (const p of await processTree(pid)) {
      const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => undefined);
      if (stat === undefined) continue; // exited meanwhile
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
    }
    return total;
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

interface Server {
  name: string;
  child: ChildProcess;
  url: string;
  port?: number;
  rounds: LoadResult[];
}

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** One server's figures over the rounds: medians, so one disturbed window does not decide. */
function summary(rounds: LoadResult[]): LoadResult {
  const cpu = rounds.map((r) => r.cpu_ms_per_req).filter((c): c is number => c !== undefined);
  return {
    ok: rounds.reduce((a, r) => a + r.ok, 0),
    failed: rounds.reduce((a, r) => a + r.failed, 0),
    req_s: Number(median(rounds.map((r) => r.req_s)).toFixed(1)),
    p50_ms: Number(median(rounds.map((r) => r.p50_ms)).toFixed(1)),
    p99_ms: Number(median(rounds.map((r) => r.p99_ms)).toFixed(1)),
    ...(cpu.length ? { cpu_ms_per_req: Number(median(cpu).toFixed(2)) } : {}),
  };
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .option('clients', { type: 'number', default: 16 })
    .option('duration', { type: 'number', default: 5, describe: 'Seconds of measured load per server and round' })
    .option('rounds', { type: 'number', default: 3, describe: 'Rounds; each measures every server once, in turn, so a busy spell on a shared machine hits all of them' })
    .option('warmup', { type: 'number', default: 2, describe: 'Seconds of unmeasured load first' })
    .option('engines', { type: 'string', default: 'workers,in-process', describe: 'API variants to measure, each "<engine>[:<workers>[:<max-wait-ms>]]"; the first is the summary line' })
    .option('anchor', { type: 'boolean', default: true, describe: 'Also measure the FastAPI + PyTorch anchor' })
    .check((a) => {
      if (!Number.isInteger(a.rounds) || a.rounds < 1) throw new Error('--rounds must be a positive integer');
      if (!(a.duration > 0)) throw new Error('--duration must be positive');
      return true;
    })
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

    // Every server starts first and idles while another is measured.
    const servers: Server[] = [];
    let anchor: Server | undefined;
    if (argv.anchor && (await anchorAvailable())) {
      const port = await freePort();
      log(`anchor: FastAPI + PyTorch (uvicorn, 1 worker) on port ${port}`);
      const child = spawn(PYTHON, ['-m', 'uvicorn', 'fastapi_torch_server:app', '--port', String(port), '--workers', '1', '--log-level', 'warning'], { cwd: ANCHORS, stdio: 'ignore' });
      children.push(child);
      anchor = { name: 'anchor', child, url: `http://127.0.0.1:${port}/predict/`, rounds: [] };
      await waitFor(anchor.url, upload(png), child, 'the anchor');
      servers.push(anchor);
    } else if (argv.anchor) {
      log(`anchor skipped: needs ${PYTHON} with fastapi, torch, uvicorn, multipart and PIL (apt-get install python3-torch python3-fastapi python3-uvicorn python3-multipart python3-pil)`);
    }
    for (const engine of engines) {
      const port = await freePort();
      const [kind = 'workers', workers, maxWait] = engine.split(':');
      log(`demo-api (${engine}) on port ${port}`);
      const child = spawn(
        process.execPath,
        [path.join(DEMO_API_ROOT, 'dist', 'src', 'cli.js'), '--port', String(port), '--tracking-uri', tracking.url, '--cache-dir', path.join(tmp, `cache-${servers.length}`), '--engine', kind, ...(workers ? ['--workers', workers] : []), ...(maxWait ? ['--max-wait-ms', maxWait] : [])],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      children.push(child);
      await waitFor(`http://127.0.0.1:${port}/ready`, () => ({}), child, `demo-api (${engine})`);
      const ready = (await (await fetch(`http://127.0.0.1:${port}/ready`)).json()) as { engine?: string };
      log(`demo-api (${engine}) serves on ${ready.engine ?? 'unknown engine'}`);
      servers.push({ name: engine, child, url: `http://127.0.0.1:${port}/predict/`, port, rounds: [] });
    }
    if (argv.warmup > 0) for (const server of servers) await runLoad(server.url, imagePath, argv.clients, argv.warmup);

    const vsAnchor = (r: LoadResult, a: LoadResult | undefined): string => {
      if (!a) return '';
      let text = ` ratio_req_s=${(r.req_s / a.req_s).toFixed(2)} ratio_p99=${(r.p99_ms / a.p99_ms).toFixed(2)}`;
      if (a.cpu_ms_per_req && r.cpu_ms_per_req) text += ` ratio_cpu_per_req=${(r.cpu_ms_per_req / a.cpu_ms_per_req).toFixed(2)}`;
      return text;
    };
    const describe = (r: LoadResult): string => `req_s=${r.req_s} p50_ms=${r.p50_ms} p99_ms=${r.p99_ms} ok=${r.ok} failed=${r.failed}${cpuText(r)}`;
    for (let round = 1; round <= argv.rounds; round++) {
      for (const server of servers) {
        const r = await measure(server.child.pid, server.url, imagePath, argv.clients, argv.duration);
        server.rounds.push(r);
        log(`round ${round}/${argv.rounds} ${server.name}  ${describe(r)}${server === anchor ? '' : vsAnchor(r, anchor?.rounds[round - 1])}`);
      }
    }

    log(`medians over ${argv.rounds} round(s) of ${argv.duration} s:`);
    const anchorSummary = anchor ? summary(anchor.rounds) : undefined;
    if (anchorSummary) log(`anchor  ${describe(anchorSummary)}`);
    const ratios = new Map<string, number>();
    for (const server of servers) {
      if (server === anchor) continue;
      const r = summary(server.rounds);
      // The ratio of each round's pair (measured seconds apart) is steadier than the ratio of medians.
      const ratio = anchor ? median(server.rounds.map((x, i) => x.req_s / (anchor.rounds[i] as LoadResult).req_s)) : undefined;
      if (ratio !== undefined) ratios.set(server.name, ratio);
      log(`${server.name}  ${describe(r)}${vsAnchor(r, anchorSummary)}${ratio !== undefined ? ` median_round_ratio=${ratio.toFixed(2)}` : ''}${server.port ? await meanBatch(server.port) : ''}`);
      await stop(server.child);
    }

    const first = servers.find((s) => s.name === engines[0]);
    if (!first) throw new Error('no engine was measured');
    const main = summary(first.rounds);
    const ratio = ratios.get(first.name);
    console.log(
      `bench:api req_s=${main.req_s} p50_ms=${main.p50_ms} p99_ms=${main.p99_ms} failed=${main.failed} ` +
        `anchor_req_s=${anchorSummary?.req_s ?? 'NA'} anchor_p99_ms=${anchorSummary?.p99_ms ?? 'NA'} ratio=${ratio !== undefined ? ratio.toFixed(2) : 'NA'}`,
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
