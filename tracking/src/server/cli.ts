#!/usr/bin/env node
/**
 * `npm run tracking`: the MLflow-compatible tracking server with its web UI.
 *   --port (TRACKING_PORT, default 5000)   --host (default 127.0.0.1; 0.0.0.0 in containers)
 *   --db (TRACKING_DB)   --artifacts-root (TRACKING_ARTIFACTS_ROOT)   token: MLFLOW_TRACKING_TOKEN
 */
import { resolve } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { PortInUseError, startTrackingServer, type RunningTrackingServer } from './start.js';

const workspaceRoot = resolve(__dirname, '..', '..', '..');

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run tracking --')
    .option('port', { type: 'number', default: Number(process.env.TRACKING_PORT ?? 5000), describe: 'Port to listen on (env TRACKING_PORT)' })
    .option('host', { type: 'string', default: process.env.TRACKING_HOST ?? '127.0.0.1', describe: 'Address to bind; 0.0.0.0 for containers' })
    .option('db', { type: 'string', default: process.env.TRACKING_DB ?? resolve(workspaceRoot, 'mlruns', 'tracking.db'), describe: 'SQLite database file (env TRACKING_DB)' })
    .option('artifacts-root', {
      type: 'string',
      default: process.env.TRACKING_ARTIFACTS_ROOT ?? resolve(workspaceRoot, 'mlruns', 'artifacts'),
      describe: 'Folder for artifacts (env TRACKING_ARTIFACTS_ROOT)',
    })
    .option('max-artifact-bytes', { type: 'number', default: 2 * 1024 ** 3, describe: 'Largest artifact upload; larger ones get 413' })
    .option('synchronous', { choices: ['NORMAL', 'FULL'] as const, default: 'NORMAL' as const, describe: 'SQLite sync: NORMAL survives a killed process, FULL also power loss' })
    .check((a) => {
      if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) throw new Error(`--port must be an integer 0..65535, got ${a.port}`);
      return true;
    })
    .strict()
    .help()
    .parse();

  const token = process.env.MLFLOW_TRACKING_TOKEN || undefined;
  // Signal handlers go in before anything is printed: a supervisor may signal as soon as it sees the URL.
  let server: RunningTrackingServer | undefined;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`tracking: ${signal} received, shutting down`);
    (server ? server.close() : Promise.resolve())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        console.error(`tracking: shutdown failed: ${String(err)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    server = await startTrackingServer({
      port: argv.port,
      host: argv.host,
      dbPath: argv.db,
      artifactsRoot: argv['artifacts-root'],
      token,
      maxArtifactBytes: argv['max-artifact-bytes'],
      synchronous: argv.synchronous,
    });
  } catch (err) {
    if (err instanceof PortInUseError) {
      console.error(`tracking: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  if (stopping) {
    await server.close();
    return;
  }
  console.log(`tracking: database ${resolve(argv.db)}, artifacts ${resolve(argv['artifacts-root'])}${token ? ', bearer token required for changes' : ''}`);
  console.log(`tracking: listening on ${server.url} (MLFLOW_TRACKING_URI=${server.url})`);
}

main().catch((err: unknown) => {
  console.error(`tracking: failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
