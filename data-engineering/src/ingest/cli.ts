#!/usr/bin/env node
/**
 * npm run ingest -- --data_loc raw-data --file_name compounds.json --output_path data-science/data \
 *   --dlq data-engineering/ingest/dlq.log
 * Exit codes: 0 done (rejected records are not an error), 2 bad input or arguments, 1 anything else.
 */
import * as fs from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { StagedOutput } from '../common/atomic-output.js';
import { InputError } from './errors.js';
import { ingest, REJECT_REASONS, type IngestSummary, type Logger } from './ingest.js';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

function makeLogger(level: Level): Logger {
  const at = LEVELS.indexOf(level);
  const line = (l: Level) => (text: string) => {
    if (LEVELS.indexOf(l) >= at) process.stderr.write(`${text}\n`);
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn') };
}

export function formatSummary(summary: IngestSummary): string[] {
  const reasons = REJECT_REASONS.filter((r) => summary.rejectedByReason[r] > 0).map((r) => `${r}=${summary.rejectedByReason[r]}`);
  return [
    `ingest: ${summary.records} records: ${summary.accepted} accepted, ${summary.rejected} rejected` +
      (reasons.length > 0 ? ` (${reasons.join(', ')})` : ''),
    `ingest: ${summary.uniqueImages} images, ${summary.seconds.toFixed(2)} s, ${Math.round(summary.recordsPerSecond)} records/s, ` +
      `peak RSS ${summary.peakRssMb.toFixed(0)} MB, image checks: ${summary.imageCheck}`,
    `ingest: dataset digest sha256:${summary.digest}`,
  ];
}

/**
 * With INGEST_PAUSE_BEFORE_COMMIT=1 the CLI stops once everything is staged, says so on stderr and
 * waits to be killed: the tests use it to interrupt a real run at a known point, deterministically.
 */
function pauseBeforeCommitForTests(): (() => Promise<void>) | undefined {
  if (process.env.INGEST_PAUSE_BEFORE_COMMIT !== '1') return undefined;
  return () => {
    process.stderr.write('ingest: staged, paused before commit\n');
    return new Promise<void>(() => {
      setInterval(() => undefined, 60_000); // keep the event loop alive until a signal arrives
    });
  };
}

async function main(): Promise<void> {
  const parser = yargs(hideBin(process.argv))
    .scriptName('ingest')
    .usage('$0 [options]\n\nValidates compounds.json and writes compound_rings.csv, the accepted images and dataset.json; ' +
      'rejected records go to the dead-letter log (JSON Lines).')
    .option('data_loc', { alias: 'data-loc', type: 'string', default: 'raw-data', describe: 'Folder with the input file, schema.json and the images' })
    .option('file_name', { alias: 'file-name', type: 'string', default: 'compounds.json', describe: 'Input file inside --data_loc (a JSON array)' })
    .option('output_path', { alias: 'output-path', type: 'string', default: 'data-science/data', describe: 'Folder for compound_rings.csv, images/ and dataset.json' })
    .option('dlq', { type: 'string', default: 'data-engineering/ingest/dlq.log', describe: 'Dead-letter log (replaced on each run)' })
    .option('schema', { type: 'string', describe: 'JSON Schema of the input (default: <data_loc>/schema.json)' })
    .option('image_check', { alias: 'image-check', choices: ['exists', 'full'] as const, default: 'full' as const, describe: 'exists: the file is there; full: also a PNG/JPEG that decodes' })
    .option('concurrency', { type: 'number', default: 16, describe: 'Image files checked at once' })
    .option('log_level', { alias: 'log-level', choices: LEVELS, default: 'info' as Level, describe: 'debug also lists each rejected record' })
    .option('summary_json', { alias: 'summary-json', type: 'string', describe: 'Also write the summary as JSON to this file' })
    .strict()
    .help()
    .fail((message, error) => {
      process.stderr.write(`ingest: ${(error?.message ?? message).replace(/\s*\n\s*/g, ' ')} (see --help)\n`);
      process.exit(2);
    });
  const args = await parser.parseAsync();
  const log = makeLogger(args.log_level);
  StagedOutput.abandonOnSignals((line) => process.stderr.write(`ingest: ${line}\n`));
  try {
    const summary = await ingest({
      dataLoc: args.data_loc,
      fileName: args.file_name,
      outputPath: args.output_path,
      dlqPath: args.dlq,
      schemaPath: args.schema,
      imageCheck: args.image_check,
      concurrency: args.concurrency,
      log,
      beforeCommit: pauseBeforeCommitForTests(),
    });
    for (const line of formatSummary(summary)) log.info(line);
    log.info(`ingest: wrote ${args.output_path}/compound_rings.csv, images/, dataset.json; dead letters in ${args.dlq}`);
    if (args.summary_json !== undefined) fs.writeFileSync(args.summary_json, `${JSON.stringify(summary)}\n`);
  } catch (error) {
    if (error instanceof InputError) {
      process.stderr.write(`ingest: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`ingest: failed: ${error instanceof Error ? error.message : String(error)}; previous outputs were left as they were\n`);
  process.exit(1);
});
