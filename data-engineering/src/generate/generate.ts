import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { StagedOutput } from '../common/atomic-output.js';
import { COMPOUNDS_SCHEMA } from '../common/compound-schema.js';
import { startProgress } from '../common/progress.js';
import { interleave, makeBadRecords } from './bad-records.js';
import { IMAGE_SIZE, type CompoundRecord } from './compound.js';
import { loadRDKit } from './rdkit.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './worker.js';

export const GENERATOR_VERSION = '1.1.0';
/** Indices per message to a worker: big enough to amortise messaging, small enough to balance load. */
const CHUNK = 16;

export interface GenerateOptions {
  count: number;
  seed: number;
  out: string;
  workers?: number;
  /** Palette PNGs (smaller files); see RenderOptions.compact. */
  compact?: boolean;
  /** Mix in the deliberately bad records (default true). */
  badRecords?: boolean;
  log?: (line: string) => void;
  /** Force the progress display (bar or log lines); by default a bar on a terminal. */
  tty?: boolean;
}

/** generation.json: how a raw-data folder was made. Training logs the seed from it. */
export interface GenerationManifest {
  generator: string;
  generator_version: string;
  rdkit_version: string;
  seed: number;
  count: number;
  bad_records: { compound_id: string | null; problem: string }[];
  total_records: number;
  /** Good compounds per RDKit ring count. */
  class_histogram: Record<string, number>;
  image: { width: number; height: number; format: string };
}

export interface GenerateResult {
  manifest: GenerationManifest;
  seconds: number;
  workers: number;
}

/**
 * Generates `count` compounds for `seed` into `out` (compounds.json, schema.json, generation.json,
 * images/), replacing what was there only once everything has been written.
 */
export async function generateDataset(options: GenerateOptions): Promise<GenerateResult> {
  const log = options.log ?? ((line: string) => console.error(line));
  const started = performance.now();
  const output = new StagedOutput(options.out, 'generate');
  const imagesDir = output.staged('images');
  fs.mkdirSync(imagesDir);
  const workerCount = Math.max(1, Math.min(options.workers ?? os.availableParallelism(), Math.ceil(options.count / CHUNK)));
  try {
    const records = await renderAll(options, imagesDir, workerCount);
    const bad = options.badRecords === false ? [] : makeBadRecords(records, imagesDir, options.seed);
    const all = interleave(records, bad);
    const histogram: Record<string, number> = {};
    for (const record of records) histogram[record.num_rings] = (histogram[record.num_rings] ?? 0) + 1;
    const manifest: GenerationManifest = {
      generator: '@ringcount/data-engineering generate',
      generator_version: GENERATOR_VERSION,
      rdkit_version: await rdkitVersion(),
      seed: options.seed,
      count: records.length,
      bad_records: bad.map((b) => ({ compound_id: typeof b.record.compound_id === 'string' ? b.record.compound_id : null, problem: b.problem })),
      total_records: all.length,
      class_histogram: histogram,
      image: { width: IMAGE_SIZE, height: IMAGE_SIZE, format: options.compact === true ? 'png (64-colour palette)' : 'png (RGB)' },
    };
    fs.writeFileSync(output.staged('compounds.json'), `${JSON.stringify(all, null, 1)}\n`);
    fs.writeFileSync(output.staged('schema.json'), `${JSON.stringify(COMPOUNDS_SCHEMA, null, 2)}\n`);
    fs.writeFileSync(output.staged('generation.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    output.commit(['images', 'schema.json', 'generation.json', 'compounds.json']);
    const seconds = (performance.now() - started) / 1000;
    log(`generate: ${records.length} compounds + ${bad.length} bad records in ${seconds.toFixed(1)} s ` +
      `(${(records.length / seconds).toFixed(0)} compounds/s, ${workerCount} worker threads) → ${options.out}`);
    return { manifest, seconds, workers: workerCount };
  } catch (error) {
    output.abandon();
    throw error;
  }
}

async function rdkitVersion(): Promise<string> {
  return (await loadRDKit()).version();
}

/**
 * Renders every index on worker threads, then redraws later copies of a structure that came out
 * twice (small molecules can), so every compound is unique. Duplicates are found in index order,
 * which keeps the result independent of how the work was split.
 */
async function renderAll(options: GenerateOptions, imagesDir: string, workerCount: number): Promise<CompoundRecord[]> {
  if (options.count === 0) return [];
  const records: (CompoundRecord | undefined)[] = new Array<CompoundRecord | undefined>(options.count);
  const log = options.log ?? ((line: string) => console.error(line));
  const setup: WorkerSetup = { seed: options.seed, imagesDir, compact: options.compact === true };
  const workers = Array.from({ length: workerCount }, () => new Worker(path.join(__dirname, 'worker.js'), { workerData: setup }));
  try {
    await Promise.all(workers.map(whenReady));
    let items = Array.from({ length: options.count }, (_, index) => ({ index, redraw: 0 }));
    for (let round = 0; items.length > 0; round++) {
      if (round > 20) throw new Error(`could not make ${items.length} compounds unique`);
      const progress = startProgress({ label: round === 0 ? 'generate' : 'generate (redraw duplicates)', total: items.length, log, tty: options.tty });
      try {
        await runOnWorkers(workers, items, (index, record) => {
          records[index] = record;
          progress.increment();
        });
      } finally {
        progress.stop();
      }
      const seen = new Set<string>();
      items = [];
      records.forEach((record, index) => {
        if (record === undefined) throw new Error(`compound ${index} was not generated`);
        if (seen.has(record.smiles)) items.push({ index, redraw: round + 1 });
        seen.add(record.smiles);
      });
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return records as CompoundRecord[];
}

/** Sends the items to the workers in chunks, each worker taking the next chunk when it is done. */
function runOnWorkers(workers: Worker[], items: { index: number; redraw: number }[], onRecord: (index: number, record: CompoundRecord) => void): Promise<void> {
  let next = 0;
  let idle = 0;
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      for (const worker of workers) worker.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
    };
    const fail = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const sendWork = (worker: Worker): void => {
      if (next >= items.length) {
        if (++idle === workers.length) {
          cleanup();
          resolve();
        }
        return;
      }
      worker.postMessage({ items: items.slice(next, next + CHUNK) } satisfies WorkerRequest);
      next += CHUNK;
    };
    for (const worker of workers) {
      worker.on('message', (reply: WorkerReply) => {
        if (reply.kind === 'failed') return fail(new Error(`generator worker failed: ${reply.message}`));
        if (reply.kind === 'done') for (const { index, record } of reply.records) onRecord(index, record);
        sendWork(worker);
      });
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`generator worker exited with code ${code}`)));
    }
    for (const worker of workers) sendWork(worker);
  });
}

/** Resolves once the worker has loaded RDKit and its catalogue. */
function whenReady(worker: Worker): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onMessage = (reply: WorkerReply): void => {
      worker.off('error', reject);
      if (reply.kind === 'ready') resolve();
      else reject(new Error(`generator worker failed to start: ${reply.kind === 'failed' ? reply.message : reply.kind}`));
    };
    worker.once('message', onMessage);
    worker.once('error', reject);
  });
}
