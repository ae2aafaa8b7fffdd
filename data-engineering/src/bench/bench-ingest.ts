/**
 * npm run bench:ingest — builds a 100,000-record compounds.json that reuses the few hundred images of
 * raw-data/ (generating them if missing), then times the ingest CLI as a child process, once with
 * existence checks only and once with full image checks, and prints records/s and peak RSS.
 * The anchor — a reconstruction of the upstream Python script (pydantic, existence checks only) —
 * runs in the same command when /usr/bin/python3 has pydantic; the upstream figure quoted in the
 * issue (102,000 records in ~2.3 s) is printed for orientation.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateDataset } from '../generate/generate.js';
import type { IngestSummary } from '../ingest/ingest.js';

const RECORDS = 100_000;
const UPSTREAM_RECORDS_PER_SECOND = 102_000 / 2.3;
const root = path.resolve(__dirname, '../../../..');
const benchDir = path.join(root, 'bench-out', 'ingest');
const dataDir = path.join(benchDir, 'data');
const cli = path.join(root, 'data-engineering', 'dist', 'src', 'ingest', 'cli.js');
const pythonAnchor = path.join(root, 'data-engineering', 'bench', 'upstream_ingest.py');

async function sourceSet(): Promise<string> {
  const rawData = path.join(root, 'raw-data');
  if (fs.existsSync(path.join(rawData, 'compounds.json')) && fs.existsSync(path.join(rawData, 'images'))) return rawData;
  const generated = path.join(benchDir, 'source');
  console.log(`bench:ingest: raw-data/ missing, generating 300 compounds into ${generated}`);
  await generateDataset({ count: 300, seed: 1, out: generated });
  return generated;
}

/** Writes RECORDS records cycling over the source's good records, plus its bad records once each. */
function buildInput(source: string): { good: number; images: number } {
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dataDir, 'images'), { recursive: true });
  const all = JSON.parse(fs.readFileSync(path.join(source, 'compounds.json'), 'utf8')) as Record<string, unknown>[];
  const good = all.filter((r) => typeof r.compound_id === 'string' && /^SYN\d+$/.test(r.compound_id) && typeof r.image === 'string');
  const bad = all.filter((r) => !good.includes(r));
  for (const file of fs.readdirSync(path.join(source, 'images'))) {
    fs.copyFileSync(path.join(source, 'images', file), path.join(dataDir, 'images', file));
  }
  fs.copyFileSync(path.join(source, 'schema.json'), path.join(dataDir, 'schema.json'));
  const fd = fs.openSync(path.join(dataDir, 'compounds.json'), 'w');
  fs.writeSync(fd, '[\n');
  const goodCount = RECORDS - bad.length;
  for (let i = 0; i < RECORDS; i++) {
    const record = i < goodCount
      ? { ...good[i % good.length], compound_id: `BENCH${String(i + 1).padStart(6, '0')}` }
      : bad[i - goodCount];
    fs.writeSync(fd, `${JSON.stringify(record)}${i < RECORDS - 1 ? ',\n' : '\n'}`);
  }
  fs.writeSync(fd, ']\n');
  fs.closeSync(fd);
  return { good: good.length, images: fs.readdirSync(path.join(dataDir, 'images')).length };
}

interface Run {
  summary: IngestSummary;
  wallSeconds: number;
}

function runIngest(mode: 'exists' | 'full'): Run {
  const summaryFile = path.join(benchDir, `summary-${mode}.json`);
  // Start from an empty output folder, as the anchor does: replacing a previous run's images is not measured.
  fs.rmSync(path.join(benchDir, `out-${mode}`), { recursive: true, force: true });
  const started = performance.now();
  const child = spawnSync(process.execPath, [
    cli, '--data_loc', dataDir, '--file_name', 'compounds.json', '--output_path', path.join(benchDir, `out-${mode}`),
    '--dlq', path.join(benchDir, `dlq-${mode}.log`), '--image_check', mode, '--log_level', 'warn', '--summary_json', summaryFile,
  ], { stdio: ['ignore', 'inherit', 'inherit'] });
  const wallSeconds = (performance.now() - started) / 1000;
  if (child.status !== 0) throw new Error(`ingest (${mode}) exited with ${child.status}`);
  return { summary: JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as IngestSummary, wallSeconds };
}

function runPythonAnchor(): { seconds: number; cpuSeconds: number; wallSeconds: number } | undefined {
  const probe = spawnSync('/usr/bin/python3', ['-c', 'import pydantic'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    console.log('bench:ingest: /usr/bin/python3 with pydantic not found; skipping the Python anchor (apt-get install python3-pydantic)');
    return undefined;
  }
  const started = performance.now();
  const child = spawnSync('/usr/bin/python3', [pythonAnchor, dataDir, 'compounds.json', path.join(benchDir, 'out-python'), path.join(benchDir, 'dlq-python.log')], {
    encoding: 'utf8',
  });
  const wallSeconds = (performance.now() - started) / 1000;
  if (child.status !== 0) {
    console.log(`bench:ingest: Python anchor failed: ${child.stderr.trim().split('\n').pop() ?? ''}`);
    return undefined;
  }
  const result = JSON.parse(child.stdout.trim().split('\n').pop() ?? '{}') as { seconds: number; cpu_seconds: number };
  return { seconds: result.seconds, cpuSeconds: result.cpu_seconds, wallSeconds };
}

async function main(): Promise<void> {
  const source = await sourceSet();
  const input = buildInput(source);
  const inputMb = fs.statSync(path.join(dataDir, 'compounds.json')).size / 1e6;
  console.log(`bench:ingest: ${RECORDS} records (${inputMb.toFixed(1)} MB) reusing ${input.images} image files from ${path.relative(root, source)}`);

  const anchor = runPythonAnchor();
  if (anchor !== undefined) {
    console.log(`bench:ingest: anchor (Python + pydantic, existence checks, no image copies): ${anchor.seconds.toFixed(2)} s in-script ` +
      `(${anchor.cpuSeconds.toFixed(2)} s CPU), ${anchor.wallSeconds.toFixed(2)} s wall, ${Math.round(RECORDS / anchor.seconds)} records/s`);
  }
  const lines: string[] = [];
  for (const mode of ['exists', 'full'] as const) {
    const { summary, wallSeconds } = runIngest(mode);
    const rate = summary.records / summary.seconds;
    let comparison = `${(rate / UPSTREAM_RECORDS_PER_SECOND).toFixed(1)}× the upstream figure (${Math.round(UPSTREAM_RECORDS_PER_SECOND)} records/s)`;
    if (anchor !== undefined) {
      comparison += `, ${(anchor.seconds / summary.seconds).toFixed(1)}× the Python anchor in this run ` +
        `(${(anchor.cpuSeconds / summary.cpuSeconds).toFixed(1)}× by CPU time)`;
    }
    console.log(`bench:ingest: ${mode}: ${summary.seconds.toFixed(2)} s in-process (${summary.cpuSeconds.toFixed(2)} s CPU), ${wallSeconds.toFixed(2)} s wall, ` +
      `${summary.accepted} accepted, ${summary.rejected} rejected, ${summary.uniqueImages} images copied; ${comparison}`);
    lines.push(`bench:ingest mode=${mode} records=${summary.records} records_s=${Math.round(rate)} peak_rss_mb=${Math.round(summary.peakRssMb)}`);
  }
  for (const line of lines) console.log(line);
}

main().catch((error: unknown) => {
  console.error(`bench:ingest: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
