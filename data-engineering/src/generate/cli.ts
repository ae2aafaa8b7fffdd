#!/usr/bin/env node
/**
 * npm run generate -- --count 5000 --seed 1 --out raw-data
 * Writes compounds.json, schema.json, generation.json and images/ (RDKit depictions) into --out.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { StagedOutput } from '../common/atomic-output.js';
import { generateDataset } from './generate.js';

async function main(): Promise<void> {
  const args = await yargs(hideBin(process.argv))
    .scriptName('generate')
    .usage('$0 [options]\n\nGenerates drug-like compounds with RDKit depictions (300×300 PNG) in the upstream compounds.json format.')
    .option('count', { type: 'number', default: 300, describe: 'Number of good compounds (a few deliberately bad records are added)' })
    .option('seed', { type: 'number', default: 1, describe: 'Random seed: the same seed and count give the same data' })
    .option('out', { type: 'string', default: 'raw-data', describe: 'Output folder (its compounds.json, schema.json, generation.json and images/ are replaced)' })
    .option('workers', { type: 'number', describe: 'Worker threads (default: number of CPUs)' })
    .option('compact', { type: 'boolean', default: false, describe: 'Palette PNGs: ~3× smaller files, slower to encode' })
    .option('bad-records', { type: 'boolean', default: true, describe: 'Mix in deliberately bad records for the dead-letter log (--no-bad-records to skip)' })
    .check((argv) => {
      if (!Number.isInteger(argv.count) || argv.count < 0) throw new Error(`--count must be a whole number ≥ 0, got ${argv.count}`);
      if (!Number.isInteger(argv.seed)) throw new Error(`--seed must be an integer, got ${argv.seed}`);
      if (argv.workers !== undefined && (!Number.isInteger(argv.workers) || argv.workers < 1)) throw new Error(`--workers must be ≥ 1, got ${argv.workers}`);
      return true;
    })
    .strict()
    .help()
    .parseAsync();

  StagedOutput.abandonOnSignals((line) => console.error(`generate: ${line}`));
  await generateDataset({
    count: args.count,
    seed: args.seed,
    out: args.out,
    workers: args.workers,
    compact: args.compact,
    badRecords: args['bad-records'],
  });
}

main().catch((error: unknown) => {
  console.error(`generate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
