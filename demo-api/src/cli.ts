#!/usr/bin/env node
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { defaultConfig } from './config.js';
import { startApi } from './server.js';

async function main(): Promise<void> {
  const defaults = defaultConfig();
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run api --')
    .usage('$0 [options]\n\nServes ring-count predictions from the registry version aliased "production".')
    .option('port', { type: 'number', default: defaults.port, describe: 'Port (env API_PORT)' })
    .option('host', { type: 'string', default: defaults.host, describe: 'Interface to listen on (0.0.0.0 in containers)' })
    .option('tracking-uri', { type: 'string', default: defaults.trackingUri, describe: 'Tracking server / model registry (env MLFLOW_TRACKING_URI)' })
    .option('model-name', { type: 'string', default: defaults.modelName, describe: 'Registered model to serve' })
    .option('cache-dir', { type: 'string', default: defaults.cacheDir, describe: 'Local cache of model versions (serves from it when the registry is down)' })
    .option('max-body-mb', { type: 'number', default: defaults.maxBodyBytes / 1024 / 1024, describe: 'Largest upload accepted, in MB' })
    .option('engine', { choices: ['workers', 'in-process'] as const, default: defaults.engine, describe: 'Inference in worker processes, or on the main thread' })
    .option('workers', { type: 'number', default: defaults.workers, describe: 'Inference worker processes (each runs ONNX Runtime with one thread, or TF.js)' })
    .option('max-batch', { type: 'number', default: defaults.maxBatch, describe: 'Largest dynamic batch' })
    .option('max-wait-ms', { type: 'number', default: defaults.maxWaitMs, describe: 'How long a request may wait for a batch to fill (0 = never wait)' })
    .option('poll-ms', { type: 'number', default: defaults.pollIntervalMs, describe: 'Registry alias polling interval' })
    .check((a) => {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be 0..65535, got ${a.port}`);
      if (!(a['max-body-mb'] > 0)) throw new Error('--max-body-mb must be positive');
      if (!Number.isInteger(a.workers) || a.workers < 1) throw new Error('--workers must be a positive integer');
      if (!Number.isInteger(a['max-batch']) || a['max-batch'] < 1) throw new Error('--max-batch must be a positive integer');
      return true;
    })
    .strict()
    .help()
    .parse();

  const api = await startApi({
    port: argv.port,
    host: argv.host,
    trackingUri: argv['tracking-uri'],
    modelName: argv['model-name'],
    cacheDir: path.resolve(argv['cache-dir']),
    maxBodyBytes: Math.round(argv['max-body-mb'] * 1024 * 1024),
    engine: argv.engine,
    workers: argv.workers,
    maxBatch: argv['max-batch'],
    maxWaitMs: argv['max-wait-ms'],
    pollIntervalMs: argv['poll-ms'],
  });
  const stop = (): void => {
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`demo-api: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
