/**
 * `npm run evaluate:robustness`: redraws compounds the model has not seen in several ways (rotated,
 * CoordGen layout, monochrome, other canvas sizes, line widths, labels, without stereo marks) and
 * prints the model's accuracy on each — how much it depends on how a molecule is drawn. Any
 * compounds.json works, for example an export of real compounds with their SMILES and ring counts.
 */
import { SingleBar } from 'cli-progress';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { DEPICTION_VARIANTS, depictionVariants } from '@ringcount/data-engineering';
import { setupBackend } from '@ringcount/model-core';
import { TrackingClient } from '@ringcount/tracking';
import { RobustnessInputError, evaluateRobustness, loadModelForEvaluation, readCompounds, type RobustnessReport } from './robustness.js';

const EXIT_USAGE = 2;
const REPO_DIR = path.resolve(__dirname, '../../../..');

async function main(argv: string[]): Promise<void> {
  const args = await yargs(argv)
    .scriptName('npm run evaluate:robustness --')
    .usage('$0 [--model data-science/models/v2] [--data raw-data] [--limit 300]')
    .option('model', { type: 'string', default: 'data-science/models/v2', describe: 'model directory (model.json + ringcount-model.json)' })
    .option('data', { type: 'string', default: 'raw-data', describe: 'folder with compounds.json (SMILES and num_rings per record)' })
    .option('compounds', { type: 'string', describe: 'a compounds JSON file instead of <data>/compounds.json' })
    .option('limit', { type: 'number', default: 300, describe: 'compounds to draw (the first N usable records; 0 = all)' })
    .option('variants', { type: 'string', describe: `comma-separated, default all: ${DEPICTION_VARIANTS.map((v) => v.name).join(',')}` })
    .option('seed', { type: 'number', default: 1, describe: 'seed of the rotation angles' })
    .option('json', { type: 'string', describe: 'also write the report (with confusion matrices) to this file' })
    .option('track', { type: 'boolean', default: false, describe: "log robustness_<variant>_accuracy metrics to the model's tracking run (MLFLOW_TRACKING_URI)" })
    .strict()
    .help()
    .fail((msg, err) => {
      throw err ?? new RobustnessInputError(`${msg}\nusage: npm run evaluate:robustness -- [--model <dir>] [--data <folder>] (--help for all options)`);
    })
    .parseAsync();
  if (!Number.isInteger(args.limit) || args.limit < 0) throw new RobustnessInputError(`--limit must be a whole number ≥ 0, got ${args.limit}`);
  const variants = args.variants === undefined ? DEPICTION_VARIANTS : (() => {
    try {
      return depictionVariants(args.variants.split(',').map((v) => v.trim()).filter((v) => v !== ''));
    } catch (err) {
      throw new RobustnessInputError((err as Error).message);
    }
  })();
  if (variants.length === 0) throw new RobustnessInputError('--variants names no variant');

  // npm runs scripts from the repository root; paths are meant relative to where the user typed the command.
  const userDir = process.env['INIT_CWD'] ?? process.cwd();
  const compoundsFile = path.resolve(userDir, args.compounds ?? path.join(args.data, 'compounds.json'));
  const modelDir = path.resolve(userDir, args.model);

  const { compounds: all, skipped } = await readCompounds(compoundsFile);
  const compounds = args.limit === 0 ? all : all.slice(0, args.limit);
  if (compounds.length === 0) throw new RobustnessInputError(`${compoundsFile} has no record with smiles and num_rings`);
  const backend = await setupBackend();
  const loaded = await loadModelForEvaluation(modelDir);
  const { metadata } = loaded;
  const seenSeed = trainingSeedOverlap(path.dirname(compoundsFile), metadata.generatorSeed);
  console.log(`robustness: ${metadata.version} (${metadata.architecture}, ${path.relative(REPO_DIR, modelDir) || modelDir}) on ` +
    `${compounds.length} compounds of ${path.relative(REPO_DIR, compoundsFile)}, ${variants.length} drawings each, backend ${backend.backend}`);
  if (seenSeed !== undefined) {
    console.log(`robustness: warning: ${path.relative(REPO_DIR, compoundsFile)} was generated with seed ${seenSeed}, the seed of the ` +
      "model's training data: these may be its training compounds, and accuracy is then overstated");
  }

  const bar = new SingleBar({ format: 'robustness: {bar} {value}/{total} drawings ({eta}s left)', noTTYOutput: true, notTTYSchedule: 10_000 });
  bar.start(compounds.length * variants.length, 0);
  const report = await evaluateRobustness(loaded, compounds, {
    variants, seed: args.seed, onProgress: (done) => bar.update(done),
  });
  bar.stop();
  report.skipped.unshift(...skipped);
  printReport(report);
  if (args.json !== undefined) {
    const file = path.resolve(userDir, args.json);
    await writeFile(file, JSON.stringify(report, null, 2) + '\n');
    console.log(`robustness: report written to ${file}`);
  }
  if (args.track) await logToRun(metadata.runId, report);
}

/** The seed of the compounds' generation.json when it is the model's generator seed. */
function trainingSeedOverlap(dataDir: string, modelSeed: number | undefined): number | undefined {
  const manifest = path.join(dataDir, 'generation.json');
  if (modelSeed === undefined || !existsSync(manifest)) return undefined;
  try {
    const seed = (JSON.parse(readFileSync(manifest, 'utf8')) as { seed?: unknown }).seed;
    return seed === modelSeed ? modelSeed : undefined;
  } catch {
    return undefined;
  }
}

function printReport(report: RobustnessReport): void {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  const baseline = report.variants[0];
  console.log('');
  console.log(`${'drawing'.padEnd(16)}${'exact'.padStart(7)}${'±1 ring'.padStart(9)}${'MAE'.padStart(7)}${'n'.padStart(6)}  ${baseline ? `vs ${baseline.variant}` : ''}`);
  for (const v of report.variants) {
    const delta = baseline === undefined ? '' : `${((v.accuracy - baseline.accuracy) * 100 >= 0 ? '+' : '')}${((v.accuracy - baseline.accuracy) * 100).toFixed(1)} pts`;
    console.log(`${v.variant.padEnd(16)}${pct(v.accuracy)}${pct(v.withinOne).padStart(9)}${v.meanAbsoluteError.toFixed(2).padStart(7)}${String(v.count).padStart(6)}  ${delta}  ${v.description}`);
  }
  if (report.skipped.length > 0) {
    const reasons = new Map<string, number>();
    for (const s of report.skipped) reasons.set(s.reason, (reasons.get(s.reason) ?? 0) + 1);
    console.log(`skipped ${report.skipped.length} records: ${[...reasons].map(([r, n]) => `${n} × ${r}`).join('; ')}`);
  }
  const worst = report.variants.reduce((a, b) => (b.accuracy < a.accuracy ? b : a));
  console.log(`worst drawing: ${worst.variant} at ${pct(worst.accuracy).trim()} exact`);
  for (const v of report.variants) {
    console.log(`evaluate:robustness model=${report.model.version} variant=${v.variant} accuracy=${v.accuracy.toFixed(4)} ` +
      `within_one=${v.withinOne.toFixed(4)} mae=${v.meanAbsoluteError.toFixed(4)} n=${v.count}`);
  }
}

async function logToRun(runId: string | undefined, report: RobustnessReport): Promise<void> {
  if (runId === undefined) throw new RobustnessInputError("--track: the model's metadata names no tracking run (it was saved untracked)");
  const uri = process.env['MLFLOW_TRACKING_URI'] ?? 'http://127.0.0.1:5000';
  const client = new TrackingClient({ trackingUri: uri });
  const timestamp = Date.now();
  const metrics = report.variants.flatMap((v) => [
    { key: `robustness_${v.variant.replace(/-/g, '_')}_accuracy`, value: v.accuracy, timestamp, step: 0 },
    { key: `robustness_${v.variant.replace(/-/g, '_')}_within_one`, value: v.withinOne, timestamp, step: 0 },
  ]);
  await client.logBatch(runId, { metrics });
  console.log(`robustness: logged ${metrics.length} metrics to run ${runId} at ${uri}`);
}

main(hideBin(process.argv)).catch((err: unknown) => {
  if (err instanceof RobustnessInputError) {
    console.error(`evaluate:robustness: ${err.message}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  console.error(`evaluate:robustness: failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
